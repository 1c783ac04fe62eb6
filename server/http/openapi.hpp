// The OpenAPI document of the HTTP API (docs/openapi.yaml), embedded in the binary at build
// time (cmake/embed_text.cmake) and served as JSON at GET /api/v1/openapi.json.
// Must not: read any file at run time, or include yaml-cpp (the YAML is read through
// scenario/yaml_tree, the one component that does).
// Invariants: the JSON is made once, at the first call (thread-safe), and never changes; YAML
// 1.2 core-schema scalars map to JSON as JavaScript's `yaml` package maps them.
#pragma once

#include <string>
#include <string_view>

namespace smtpmock::http {

/// The OpenAPI document as compact JSON (application/json), made at the first call and cached;
/// safe to call from any thread. Throws std::runtime_error if the embedded YAML is unusable.
const std::string& openapi_json();

/// The embedded YAML text of docs/openapi.yaml, as it was at build time.
std::string_view openapi_yaml();

}  // namespace smtpmock::http
