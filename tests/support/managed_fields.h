#pragma once

// managedFields as the API server's field manager keeps them for Update operations, for the
// fake API server: who owns which field after each write (FieldsV1).

#include <nlohmann/json.hpp>
#include <string>

namespace rotor::testing {

/**
 * Records a write in managedFields as the API server's field manager does for an Update: the
 * writer gains the fields it changed, fields the request as sent left out are owned by nobody
 * any more (even where the server keeps them, as labels on a status write), other managers lose
 * what the writer changed, empty entries go, and the writer's entry moves last.
 */
void recordWrite(nlohmann::json& object, const nlohmann::json& before, const nlohmann::json& sent,
                 const std::string& manager, const std::string& apiVersion, bool statusSubresource, bool typed,
                 const std::string& time);

}  // namespace rotor::testing
