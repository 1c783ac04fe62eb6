// The route tables' matcher and the request-line helpers, on RESTinio; see router.hpp.
#include "http/router.hpp"

#include <restinio/helpers/http_field_parsers/basic_auth.hpp>
#include <restinio/router/express.hpp>
#include <restinio/uri_helpers.hpp>
#include <restinio/utils/percent_encoding.hpp>

#include <cctype>
#include <stdexcept>

namespace smtpmock::http {

namespace {

/// Escapes as RESTinio decodes them, with every other byte taken as it is: clients (curl, a
/// browser's address bar) send `"`, `<` or UTF-8 in a search query unescaped, and the API
/// has always taken them.
struct lenient_unescape_traits {
  static constexpr bool ordinary_char(char) noexcept { return true; }
};

/// The query string: '&' between pairs, as application/x-www-form-urlencoded.
struct query_traits : lenient_unescape_traits {
  static restinio::string_view_t::size_type find_next_separator(
      restinio::string_view_t where, restinio::string_view_t::size_type from) noexcept {
    return where.find_first_of('&', from);
  }
};

/// Every method: the router compares methods itself, to answer 405 with Allow.
struct any_method : restinio::router::method_matcher_t {
  bool match(const restinio::http_method_id_t&) const noexcept override { return true; }
};

using express_entry =
    restinio::router::generic_express_route_entry_t<restinio::router::std_regex_engine_t,
                                                    restinio::no_extra_data_factory_t>;

}  // namespace

struct router::entry {
  const route* row;
  express_entry matcher;
  std::vector<std::string> names;  ///< the pattern's :names, in order
};

router::router() = default;
router::~router() = default;

void router::add(std::span<const route> rows) {
  for (const auto& row : rows) {
    std::vector<std::string> names;
    for (std::size_t at = row.path.find(':'); at != std::string_view::npos;
         at = row.path.find(':', at + 1)) {
      std::size_t end = at + 1;
      while (end < row.path.size() &&
             (std::isalnum(static_cast<unsigned char>(row.path[end])) || row.path[end] == '_'))
        ++end;
      names.emplace_back(row.path.substr(at + 1, end - at - 1));
    }
    entries_.push_back(std::make_unique<entry>(
        entry{&row,
              express_entry(any_method{}, restinio::string_view_t(row.path.data(), row.path.size()),
                            nullptr),
              std::move(names)}));
  }
}

route_match router::match(std::string_view method, std::string_view path) const {
  const std::string_view wanted = method == "HEAD" ? std::string_view("GET") : method;
  const restinio::http_request_header_t header(restinio::http_method_get(), std::string(path));
  route_match out;
  for (const auto& e : entries_) {
    restinio::router::route_params_t params;
    try {
      restinio::router::impl::target_path_holder_t target(header.path());
      if (!e->matcher.match(header, target, params)) continue;
    } catch (const restinio::exception_t&) {
      throw std::invalid_argument("bad percent-encoding in the path");
    }
    if (e->row->method != wanted) {
      const std::string m(e->row->method);
      if ((", " + out.allow + ",").find(", " + m + ",") == std::string::npos)
        out.allow += (out.allow.empty() ? "" : ", ") + m;
      continue;
    }
    for (const auto& name : e->names) {
      const auto value = params.get_param(name);
      if (!value) continue;
      auto decoded = percent_decode(std::string_view(value->data(), value->size()), false);
      if (!decoded) throw std::invalid_argument("bad percent-encoding in the path");
      out.params.emplace_back(name, std::move(*decoded));
    }
    out.found = e->row;
    out.allow.clear();
    return out;
  }
  return out;
}

std::optional<std::map<std::string, std::string>> parse_query_string(std::string_view query) {
  // RESTinio takes a query of one word without '=' as a "tag" and refuses "a=1&flag"; here
  // such a word is a name with an empty value, as in a form.
  const std::string text(query);
  std::map<std::string, std::string> out;
  std::size_t pos = 0;
  std::string normalised;
  while (pos <= text.size()) {
    const auto amp = text.find('&', pos);
    std::string pair = text.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    if (!pair.empty()) {
      if (pair.find('=') == std::string::npos) pair += '=';
      normalised += (normalised.empty() ? "" : "&") + pair;
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  const auto parsed = restinio::try_parse_query<query_traits>(normalised);
  if (!parsed) return std::nullopt;
  for (const auto& [key, value] : *parsed)
    out[std::string(key.data(), key.size())] = std::string(value.data(), value.size());
  return out;
}

std::optional<std::string> percent_decode(std::string_view s, bool plus_space) {
  std::string text;
  if (plus_space) {
    text.assign(s);
  } else {
    // RESTinio always reads '+' as a space (a query's rule); in a path it is itself.
    for (char c : s)
      text += c == '+' ? std::string("%2B") : std::string(1, c);
  }
  auto decoded = restinio::utils::try_unescape_percent_encoding<lenient_unescape_traits>(text);
  if (!decoded) return std::nullopt;
  return std::move(*decoded);
}

std::optional<std::pair<std::string, std::string>> basic_credentials(std::string_view header) {
  namespace hfp = restinio::http_field_parsers;
  const auto value =
      hfp::authorization_value_t::try_parse(restinio::string_view_t(header.data(), header.size()));
  if (!value || value->auth_scheme != "basic") return std::nullopt;
  const auto params = hfp::basic_auth::try_extract_params(*value);
  if (!params) return std::nullopt;
  return std::pair{params->username, params->password};
}

}  // namespace smtpmock::http
