#include "controller/api/yaml_codec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/support/status_matchers.h"

namespace rotor::api {
namespace {

using rotor::testing::StatusIs;
using ::testing::HasSubstr;

const char* kDoc = R"(apiVersion: rotor.dev/v1alpha1
kind: CertificateRotation
metadata: {name: NAME}
spec:
  certificate: {commonName: proxy.example.com}
  servers: [{name: a, certFile: a.crt, keyFile: a.key}]
  ca: {generate: {commonName: Root}}
  trustBundle: {file: bundle.pem}
  adoption: {threshold: THRESHOLD}
)";

std::string doc(const std::string& name, const std::string& threshold = "100") {
  std::string s = kDoc;
  s.replace(s.find("NAME"), 4, name);
  s.replace(s.find("THRESHOLD"), 9, threshold);
  return s;
}

TEST(YamlCodecTest, ResolvesScalarsLikeYaml12) {
  auto docs = yamlToJsonDocuments("a: 1\nb: true\nc: '1'\nd: ~\ne: 1.5\nf: 720h\ng: \"true\"\nh: 0x10\n");
  ASSERT_OK(docs);
  const auto& j = docs->front();
  EXPECT_TRUE(j["a"].is_number_integer());
  EXPECT_TRUE(j["b"].is_boolean());
  EXPECT_TRUE(j["c"].is_string());
  EXPECT_TRUE(j["d"].is_null());
  EXPECT_TRUE(j["e"].is_number_float());
  EXPECT_EQ(j["f"], "720h");
  EXPECT_EQ(j["g"], "true");
  EXPECT_EQ(j["h"], 16);
}

TEST(YamlCodecTest, ReadsSeveralDocumentsAndSkipsEmptyOnes) {
  auto r = decodeManifests("---\n" + doc("one") + "---\n---\n" + doc("two"));
  ASSERT_OK(r);
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].metadata.name, "two");
}

TEST(YamlCodecTest, OneInvalidDocumentRejectsTheFileNamingDocumentAndField) {
  auto r = decodeManifests(doc("one") + "---\n" + doc("two", "500"));
  EXPECT_THAT(r, StatusIs(Code::kInvalidArgument,
                          "document 2 (default/two): spec.adoption.threshold: must be between 1 and 100, got 500"));
}

TEST(YamlCodecTest, SyntaxErrorsGiveLineAndColumn) {
  EXPECT_THAT(decodeManifests("a: [1, 2\nb: c"), StatusIs(Code::kInvalidArgument, HasSubstr("line ")));
  EXPECT_THAT(decodeManifests("a: 1\na: 2\n"), StatusIs(Code::kInvalidArgument, HasSubstr("duplicate key \"a\"")));
  EXPECT_THAT(decodeManifests(""), StatusIs(Code::kInvalidArgument, HasSubstr("no CertificateRotation")));
}

TEST(YamlCodecTest, AnchorsAndAliasesCopyTheirNode) {
  auto docs = yamlToJsonDocuments("base: &b {x: 1, y: [2, 3]}\ncopy: *b\nname: &n edge\n*n : again\n");
  ASSERT_OK(docs);
  EXPECT_EQ(docs->front()["copy"], docs->front()["base"]);
  EXPECT_EQ(docs->front()["edge"], "again");
  EXPECT_THAT(yamlToJsonDocuments("a: *nowhere\n"), StatusIs(Code::kInvalidArgument));
  EXPECT_THAT(yamlToJsonDocuments("? [a]\n: b\n"), StatusIs(Code::kInvalidArgument, HasSubstr("keys must be strings")));
}

// Inputs that made yaml-cpp 0.7 loop forever (empty documents without end) or that expand to
// far more than their text: refused, naming where.
TEST(YamlCodecTest, TextThatWouldNeverFinishParsingIsRefused) {
  for (const char* endless : {",", ",]", "---\n,x", "[a]\n,", "\"a\"\n,", "# c\n, x"}) {
    EXPECT_THAT(yamlToJsonDocuments(endless), StatusIs(Code::kInvalidArgument, HasSubstr("invalid YAML at line")))
        << endless;
  }
  std::string laughs = "a0: &a0 [x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    laughs += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev + ", " + prev + ", " + prev + ", " +
              prev + ", " + prev + ", " + prev + ", " + prev + ", " + prev + "]\n";
  }
  EXPECT_THAT(yamlToJsonDocuments(laughs), StatusIs(Code::kInvalidArgument, HasSubstr("more nodes than its text")));
}

TEST(YamlCodecTest, DuplicateRotationsInOneFileAreRejected) {
  EXPECT_THAT(decodeManifests(doc("same") + "---\n" + doc("same")),
              StatusIs(Code::kInvalidArgument, HasSubstr("same rotation")));
}

TEST(YamlCodecTest, EmitsStringsThatLookLikeOtherTypesQuoted) {
  nlohmann::json j = {{"a", "true"}, {"b", "123"}, {"c", "plain"}, {"d", 5}};
  std::string yaml = jsonToYaml(j);
  EXPECT_THAT(yaml, HasSubstr("a: \"true\""));
  EXPECT_THAT(yaml, HasSubstr("b: \"123\""));
  EXPECT_THAT(yaml, HasSubstr("c: plain"));
  EXPECT_EQ(yamlToJsonDocuments(yaml)->front(), j);
}

TEST(YamlCodecTest, ANamespaceYamlReadsAsANumberIsRefusedWithAHintNotAnAbort) {
  // `namespace: 2024` ended rotor apply with an uncaught type_error (found by the manifest fuzzer).
  auto decoded = decodeManifests(
      "apiVersion: rotor.dev/v1alpha1\nkind: CertificateRotation\n"
      "metadata: {name: r, namespace: 2024}\nspec: {}\n");
  ASSERT_FALSE(decoded.ok());
  EXPECT_THAT(decoded.status().message(), HasSubstr("document 1 (2024/r): metadata.namespace: must be a string, got "
                                                    "number 2024 (quote it in YAML: \"2024\")"));
}

TEST(YamlCodecTest, LeadTimesNobodyWroteFollowTheValidityGiven) {
  // `validity: 720h` alone was refused: "renewBefore: must be shorter than validity (720h), got 720h".
  std::string text = doc("short");
  text.replace(text.find("{commonName: proxy.example.com}"), 31, "{commonName: proxy.example.com, validity: 720h}");
  text.replace(text.find("{generate: {commonName: Root}}"), 30, "{generate: {commonName: Root, validity: 1440h}}");
  auto decoded = decodeManifests(text);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  const CertificateRotation& r = decoded->front();
  EXPECT_EQ(r.spec.certificate.renewBefore, std::chrono::hours(240));  // a third of 720h
  EXPECT_EQ(r.spec.ca.rotateBefore, std::chrono::hours(480));          // a third of 1440h
  // Long validities keep the ceilings; values written are kept as written.
  auto defaults = decodeManifests(doc("long"));
  ASSERT_TRUE(defaults.ok());
  EXPECT_EQ(defaults->front().spec.certificate.renewBefore, std::chrono::hours(720));
  EXPECT_EQ(defaults->front().spec.ca.rotateBefore, std::chrono::hours(2160));
  std::string written = doc("written");
  written.replace(written.find("{commonName: proxy.example.com}"), 31,
                  "{commonName: proxy.example.com, validity: 720h, renewBefore: 100h}");
  EXPECT_EQ(decodeManifests(written)->front().spec.certificate.renewBefore, std::chrono::hours(100));
}

TEST(YamlCodecTest, GateModesReadBackAsWrittenAndAProceedWithoutAGracePeriodIsRefused) {
  auto manual = decodeManifests(doc("m", "100, mode: Manual, timeout: 72h, onTimeout: Proceed"));
  ASSERT_TRUE(manual.ok()) << manual.status().message();
  const AdoptionSpec& a = manual->front().spec.adoption;
  EXPECT_EQ(a.mode, AdoptionMode::kManual);
  EXPECT_EQ(a.onTimeout, TimeoutAction::kProceed);
  auto again = decodeManifests(rotationToYaml(manual->front(), false));
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->front().spec, manual->front().spec);
  EXPECT_EQ(decodeManifests(doc("d"))->front().spec.adoption.mode, AdoptionMode::kMeasured);
  EXPECT_THAT(decodeManifests(doc("x", "100, mode: Sometimes")).status().message(),
              HasSubstr("spec.adoption.mode: must be Measured or Manual, got \"Sometimes\""));
  EXPECT_THAT(decodeManifests(doc("p", "100, onTimeout: Proceed")).status().message(),
              HasSubstr("spec.adoption.onTimeout: Proceed needs spec.adoption.timeout"));
}

TEST(YamlCodecTest, RawControlCharactersAreRefusedWithTheirLine) {
  // A raw NUL in a plain scalar came back from yaml-cpp as the byte 0x85, which then did not read
  // back the same (found by the manifest fuzz target in a ten-minute run).
  std::string text = doc("ctl");
  const std::string nul(1, '\0');
  text.replace(text.find("proxy.example.com"), 5, "pr\x03" + nul + "x");
  auto decoded = decodeManifests(text);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().message(),
            "invalid YAML at line 5: control character U+0003 (YAML allows it only escaped in a double-quoted "
            "string, as \"\\x03\")");
  // Escaped, as the message says, they are fine.
  std::string escaped = doc("esc");
  escaped.replace(escaped.find("{commonName: proxy.example.com}"), 31, "{commonName: \"pr\\x03oxy\"}");
  auto read = decodeManifests(escaped);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read->front().spec.certificate.commonName, "pr\x03oxy");
}

TEST(YamlCodecTest, StringsWithControlCharactersOrOuterSpacesReadBackUnchanged) {
  // A plain scalar loses a trailing carriage return (the manifest fuzzer found it in a reload
  // command's argument): such strings are written quoted, with escapes.
  const nlohmann::json j = {
      {"cr", "error.log\r"},        {"tab", "a\tb"}, {"lead", " x"}, {"trail", "x "}, {"bell", std::string("\x07")},
      {"del", std::string("a\x7f")}};
  const std::string yaml = jsonToYaml(j);
  auto back = yamlToJsonDocuments(yaml);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << yaml;
  EXPECT_EQ(back->front(), j) << yaml;
}

}  // namespace
}  // namespace rotor::api
