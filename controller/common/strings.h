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
/** `text` with every byte that is not part of a well-formed UTF-8 sequence replaced by U+FFFD,
 *  so that what a client sent can go into a log line or a JSON document. */
std::string validUtf8(std::string_view text);
/** The offset of the first byte that is not well-formed UTF-8, or npos when there is none. */
size_t firstInvalidUtf8(std::string_view text);
/** Quotes a value for an error message: "\"value\"", truncated past 64 characters, valid UTF-8. */
std::string quoteForMessage(std::string_view value);

}  // namespace rotor
