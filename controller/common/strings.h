#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace rotor {

std::string join(std::span<const std::string> parts, std::string_view separator);
std::vector<std::string> split(std::string_view text, char separator);
std::string_view trim(std::string_view text);
std::string toLower(std::string_view text);
/** Lower-case hex of raw bytes. */
std::string hexEncode(std::span<const uint8_t> bytes);
/** Quotes a value for an error message: "\"value\"", truncated past 64 characters. */
std::string quoteForMessage(std::string_view value);

}  // namespace rotor
