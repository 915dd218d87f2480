#include "controller/store/kube/namespace_watch.h"

namespace rotor::store::kube {

NamespaceWatch::NamespaceWatch(rotor::kube::Client& client, KubeStore& store, Wake wake,
                               RotationTriggeredWatch::OnError onError)
    : watch_(
          client, rotor::kube::kNamespaces, "/spec/trustBundle/namespaceSelector"_json_pointer,
          [&store, wake = std::move(wake)](const std::string&, const nlohmann::json&,
                                           const std::vector<api::ObjectKey>& rotations) {
            store.forgetBundleCopies();  // what the last sync found may no longer be all there is
            for (const api::ObjectKey& key : rotations) wake(key);
          },
          std::move(onError)) {}

}  // namespace rotor::store::kube
