// Tests of the bounded YAML tree: what it keeps (kinds, 1-based marks, file order, plain versus
// quoted, aliases sharing their subtree) and what it refuses, each as a load_error at a position:
// input that makes yaml-cpp 0.7's LoadAll loop forever, nesting, alias bombs, node and size
// limits, several documents, and files too big to read.
#include "scenario/yaml_tree.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "scenario/loader.hpp"
#include "support.hpp"
#include "temp_dir.hpp"

namespace sc = smtpmock::scenario;
namespace yaml = smtpmock::scenario::yaml;
using smtpmock::testing::contains;

namespace {

sc::load_error error_of_yaml(const std::string& text, const yaml::limits& bounds = {}) {
  return smtpmock::testing::error_of("t.yaml", [&] { yaml::parse(text, "t.yaml", bounds); });
}

/// "billion laughs": each level an alias list of the previous one, 10^levels nodes expanded.
std::string alias_bomb(int levels) {
  std::string text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i <= levels; ++i) {
    const std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j)
      text += (j == 0 ? "" : ", ") + prev;
    text += "]\n";
  }
  return text;
}

}  // namespace

TEST_CASE("yaml_tree: kinds, 1-based marks and file order, duplicates kept") {
  const auto doc = yaml::parse("name: x\nlist: [a, 'b']\nname: y\nempty:\nnull: ~\n", "t.yaml");
  const auto root = doc.root();
  REQUIRE(root.is_map());
  REQUIRE(root.size() == 5);
  CHECK(root.where().line == 1);
  CHECK(root.where().column == 1);
  CHECK(root.key(0).scalar() == "name");
  CHECK(root.value(0).scalar() == "x");
  CHECK(root.value(0).where().line == 1);
  CHECK(root.value(0).where().column == 7);
  const auto list = root.value(1);
  REQUIRE(list.is_sequence());
  REQUIRE(list.size() == 2);
  CHECK(list.item(0).plain());
  CHECK_FALSE(list.item(1).plain());  // quoted: a string, never a number or boolean
  CHECK(list.item(1).scalar() == "b");
  CHECK(list.item(1).where().line == 2);
  CHECK(list.item(1).where().column == 11);
  CHECK(root.key(2).scalar() == "name");  // a repeated key stays, for "duplicate key" errors
  CHECK(root.value(2).scalar() == "y");
  CHECK(root.value(3).is_null());
  CHECK(root.value(4).is_null());
  CHECK_FALSE(root.value(4).is_scalar());
  CHECK(root.value(4).scalar().empty());
}

TEST_CASE("yaml_tree: an empty text has no document, an undefined node is nothing") {
  CHECK_FALSE(yaml::parse("", "t.yaml").root().defined());
  CHECK_FALSE(yaml::parse("# only a comment\n", "t.yaml").root().defined());
  CHECK(yaml::parse("---\n", "t.yaml").root().is_null());
  const yaml::node none;
  CHECK_FALSE(none.defined());
  CHECK_FALSE(none.is_null());
  CHECK(none.size() == 0);
  CHECK(none.where().line == 0);
}

TEST_CASE("yaml_tree: an alias shares its anchored subtree, at the alias's own position") {
  const auto doc = yaml::parse("a: &x {k: v}\nb: *x\n", "t.yaml");
  const auto b = doc.root().value(1);
  REQUIRE(b.is_map());
  CHECK(b.where().line == 2);
  CHECK(b.where().column == 4);
  CHECK(b.key(0).scalar() == "k");
  CHECK(b.value(0).scalar() == "v");
  CHECK(b.value(0).where().line == 1);  // the shared subtree keeps where it was written
}

TEST_CASE("yaml_tree: input yaml-cpp's LoadAll loops on is a syntax error (yaml-cpp#1040)") {
  // Before: YAML::LoadAll(",") allocated ~700 MB/s forever. Each must now fail, and quickly.
  for (const std::string text : {",", ", ,", ",\n,", "---\n,", "a: 1\n---\n,", "!t ,"}) {
    CAPTURE(text);
    const auto start = std::chrono::steady_clock::now();
    const auto e = error_of_yaml(text);
    CHECK(e.line() >= 1);
    CHECK(contains(e.message(), "YAML syntax error"));
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
  }
  const auto e = error_of_yaml(",");
  CHECK(std::string(e.what()) == "t.yaml:1:1: YAML syntax error: unexpected ','");
}

TEST_CASE("yaml_tree: a second non-empty document is an error, empty ones are not") {
  CHECK(yaml::parse("a: 1\n---\n", "t.yaml").root().is_map());
  CHECK(yaml::parse("a: 1\n...\n---\n...\n", "t.yaml").root().is_map());
  const auto e = error_of_yaml("a: 1\n---\nb: 2\n");
  CHECK(e.line() == 3);
  CHECK(e.column() == 1);
  CHECK(e.message() == "only one YAML document per file");
}

TEST_CASE("yaml_tree: nesting deeper than the limit fails at the collection that is too deep") {
  CHECK(yaml::parse(std::string(64, '[') + std::string(64, ']'), "t.yaml").root().is_sequence());
  const auto e = error_of_yaml(std::string(65, '[') + std::string(65, ']'));
  CHECK(e.line() == 1);
  CHECK(e.column() == 65);
  CHECK(contains(e.message(), "nested deeper than 64 levels"));
  // The parser reads each unclosed '[' inside a flow sequence as a compact mapping's key
  // ([[a]: b]), so there are two levels per bracket and the 33rd is too deep.
  const auto deep = error_of_yaml(std::string(100, '['));
  CHECK(deep.column() == 33);
  CHECK(contains(deep.message(), "nested deeper than 64 levels"));
}

TEST_CASE("yaml_tree: a scan that runs far ahead of the last node is stopped") {
  // yaml-cpp scans unclosed brackets to the end before the first event: 1 MiB of '[' took
  // 430 ms. Now the parse stops 64 KiB ahead of the last node.
  const auto start = std::chrono::steady_clock::now();
  const auto brackets = error_of_yaml(std::string(200 * 1024, '['));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
  CHECK(brackets.line() == 1);
  CHECK(brackets.column() == 1);
  CHECK(contains(brackets.message(), "more than 64 KiB of YAML without a complete node"));
  // One value that long is refused at the last node before it (its key).
  const auto value = error_of_yaml("name: x\ndescription: " + std::string(100 * 1024, 'x'));
  CHECK(value.line() == 2);
  CHECK(value.column() == 1);
  CHECK(contains(value.message(), "more than 64 KiB of YAML without a complete node"));
  CHECK(
      yaml::parse("a: " + std::string(60 * 1024, 'x'), "t.yaml").root().value(0).scalar().size() ==
      60 * 1024);
}

TEST_CASE("yaml_tree: UTF-16 and UTF-32 are refused, a UTF-8 byte order mark is not") {
  for (const std::string& text : {std::string("\xff\xfen\0a\0", 6), std::string("\xfe\xff\0n", 4),
                                  std::string("n\0a\0", 4), std::string("\0", 1)}) {
    const auto e = error_of_yaml(text);
    CHECK(e.line() == 1);
    CHECK(contains(e.message(), "not UTF-8 text"));
  }
  CHECK(yaml::parse("\xef\xbb\xbfname: x\n", "t.yaml").root().key(0).scalar() == "name");
}

TEST_CASE("yaml_tree: alias bombs count as what they expand to and are refused") {
  CHECK(yaml::parse(alias_bomb(3), "t.yaml").root().size() == 4);  // 12,349 nodes expanded
  const auto start = std::chrono::steady_clock::now();
  const auto e = error_of_yaml(alias_bomb(9));  // 10^10 nodes if expanded
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(1));
  CHECK(e.line() == 5);  // a4 (111,111 nodes) is the first level past 100,000
  CHECK(contains(e.message(), "more than 50000 YAML nodes (aliases counted as what they repeat)"));
}

TEST_CASE("yaml_tree: an alias to the collection that contains it is an error, not a cycle") {
  const auto e = error_of_yaml("a: &x [1, *x]\n");
  CHECK(e.line() == 1);
  CHECK(e.column() == 11);
  CHECK(e.message() == "an alias cannot refer to a collection that contains it");
  CHECK(contains(error_of_yaml("a: *nowhere\n").message(), "YAML syntax error"));
}

TEST_CASE("yaml_tree: more nodes than the limit fail at the first node past it") {
  std::string many = "a: [0";  // the map, its key, the sequence and 49,997 items: 50,000 nodes
  for (int i = 1; i < 49'997; ++i)
    many += ",0";
  CHECK(yaml::parse(many + "]", "t.yaml").root().value(0).size() == 49'997);
  const auto e = error_of_yaml(many + ",0]");
  CHECK(e.line() == 1);
  CHECK(e.column() == 99'999);
  const yaml::limits small{1024, 64, 10};
  CHECK(contains(error_of_yaml("[1,2,3,4,5,6,7,8,9,10]", small).message(), "more than 10 YAML"));
}

TEST_CASE("yaml_tree: text over the size limit is refused without a position") {
  const auto e = error_of_yaml(std::string(2 * 1024 * 1024, '#'));
  CHECK(e.line() == 0);
  CHECK(std::string(e.what()) ==
        "t.yaml: text is 2097152 octets, over the maximum of 256 KiB "
        "for this kind of file");
  std::string full;  // exactly 256 KiB: 4,096 lines of 64 octets
  for (int i = 0; i < 4096; ++i)
    full += "- " + std::string(61, 'x') + "\n";
  REQUIRE(full.size() == 256 * 1024);
  CHECK(yaml::parse(full, "t.yaml").root().size() == 4096);
  CHECK(error_of_yaml(full + "\n").line() == 0);
}

TEST_CASE("yaml_tree: read_file stops at the limit instead of reading an endless file") {
  // Before: the loader slurped the whole file, so `scenario lint /dev/zero` never ended.
  const auto e =
      smtpmock::testing::error_of("/dev/zero", [] { yaml::read_file("/dev/zero", 4096); });
  CHECK(e.line() == 0);
  CHECK(std::string(e.what()) ==
        "/dev/zero: file is over the maximum of 4 KiB for this kind of "
        "file");
  const smtpmock::testing::temp_dir dir;
  CHECK(yaml::read_file(dir.write("ok.yaml", std::string(4096, 'x')), 4096).size() == 4096);
  CHECK(smtpmock::testing::error_of("x", [&] {
          yaml::read_file(dir.write("big.yaml", std::string(4097, 'x')), 4096);
        }).line() == 0);
  CHECK(contains(smtpmock::testing::error_of("x", [&] { yaml::read_file(dir.path()); }).message(),
                 "is a directory"));
}
