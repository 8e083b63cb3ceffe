// .npy load/save: round trips, byte-exact agreement with numpy, every rejected input, a fuzz loop, and the
// temporary-file-and-rename behaviour of save.
#include "attractor/io/npy.hpp"

#include <doctest/doctest.h>

#include "file_helpers.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using attractor::cpu;
using attractor::shape;
using attractor::tensor;
using attractor_test::bytes;
using attractor_test::from_hex;
using attractor_test::read_bytes;
using attractor_test::temp_path;
using attractor_test::write_bytes;

/// A .npy file with the given header dict text (padded as numpy does) followed by `data`.
bytes make_npy(const std::string& dict, const bytes& data, int major = 1) {
  const std::size_t pre = major == 1 ? 10 : 12;
  std::string header = dict;
  while ((pre + header.size() + 1) % 64 != 0) header += ' ';
  header += '\n';
  // Sized up front and written by index: GCC 12 at -O3 reports a false stringop-overflow for push_back here.
  bytes out(pre + header.size() + data.size());
  const unsigned char magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<unsigned char>(major), 0};
  std::copy(std::begin(magic), std::end(magic), out.begin());
  for (std::size_t i = 8; i < pre; ++i) out[i] = static_cast<unsigned char>(header.size() >> (8 * (i - 8)));
  std::copy(header.begin(), header.end(), out.begin() + static_cast<std::ptrdiff_t>(pre));
  std::copy(data.begin(), data.end(), out.begin() + static_cast<std::ptrdiff_t>(pre + header.size()));
  return out;
}

/// Loads `file` as T; returns the attractor::error message, or "" when it loaded. Any other exception escapes.
template <class T>
std::string load_error(const bytes& file) {
  temp_path tmp;
  write_bytes(tmp.path, file);
  try {
    (void)attractor::load_npy<T>(tmp.path);
  } catch (const attractor::error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& s, std::initializer_list<const char*> words) {
  for (const char* w : words)
    if (s.find(w) == std::string::npos) return false;
  return true;
}

// numpy 1.24 np.save output, pasted as hex.
const bytes numpy_f32_2x3 =
    from_hex({"934e554d5059010076007b276465736372273a20273c6634272c2027666f727472616e5f6f72646572273a2046616c73",
              "652c20277368617065273a2028322c2033292c207d202020202020202020202020202020202020202020202020202020",
              "202020202020202020202020202020202020202020202020202020202020200a0000c03f000000c00000504000000000",
              "6f12833a0000e0c0"});
const bytes numpy_f64_5 =
    from_hex({"934e554d5059010076007b276465736372273a20273c6638272c2027666f727472616e5f6f72646572273a2046616c73",
              "652c20277368617065273a2028352c292c207d2020202020202020202020202020202020202020202020202020202020",
              "202020202020202020202020202020202020202020202020202020202020200a9a9999999999b93f9a9999999999c93f",
              "333333333333d3bf9c7500883ce4377e00000000000004c0"});
const bytes numpy_i64_scalar =
    from_hex({"934e554d5059010076007b276465736372273a20273c6938272c2027666f727472616e5f6f72646572273a2046616c73",
              "652c20277368617065273a2028292c207d20202020202020202020202020202020202020202020202020202020202020",
              "202020202020202020202020202020202020202020202020202020202020200a35fb048ee0feffff"});
// np.lib.format.write_array(f, a, version=(2, 0)) and (3, 0).
const bytes numpy_i32_2x2_v2 =
    from_hex({"934e554d50590200740000007b276465736372273a20273c6934272c2027666f727472616e5f6f72646572273a204661",
              "6c73652c20277368617065273a2028322c2032292c207d20202020202020202020202020202020202020202020202020",
              "202020202020202020202020202020202020202020202020202020202020200a01000000feffffffffffff7f00000080"});
const bytes numpy_u8_3_v3 =
    from_hex({"934e554d50590300740000007b276465736372273a20277c7531272c2027666f727472616e5f6f72646572273a204661",
              "6c73652c20277368617065273a2028332c292c207d202020202020202020202020202020202020202020202020202020",
              "202020202020202020202020202020202020202020202020202020202020200a0080ff"});

const char* f32_header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

}  // namespace

TEST_CASE_TEMPLATE("npy: save then load round-trips every rank 0..4, odd and empty shapes", T, float, double,
                   std::int32_t, std::int64_t, std::uint32_t, std::uint8_t) {
  const std::vector<shape> shapes = {{},           {0},          {1},          {7},          {3, 0},
                                     {0, 5},       {2, 3},       {1, 1},       {2, 3, 5},    {3, 1, 0},
                                     {4, 1, 3, 2}, {2, 0, 3, 1}, {3, 5, 7, 2}, {1, 1, 1, 1}, {65, 3}};
  for (const auto& s : shapes) {
    CAPTURE(s);
    tensor<T, cpu> t(s);
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = static_cast<T>(static_cast<long long>(i * 37 % 251) - 100);
    temp_path tmp;
    attractor::save_npy(tmp.path, t);
    const bytes file = read_bytes(tmp.path);
    // Version 1.0, data 64-byte aligned behind a header that ends in '\n', as numpy writes it.
    REQUIRE(file.size() >= 64);
    const std::size_t data_start = 10 + (file[8] | (std::size_t{file[9]} << 8));
    CHECK(file[6] == 1);
    CHECK(data_start % 64 == 0);
    CHECK(file[data_start - 1] == '\n');
    CHECK(file.size() == data_start + t.size() * sizeof(T));

    const auto u = attractor::load_npy<T>(tmp.path);
    CHECK(u.shape() == s);
    CHECK(std::equal(t.begin(), t.end(), u.begin(), u.end()));
  }
}

TEST_CASE_TEMPLATE("npy: special floating values survive bit for bit", T, float, double) {
  tensor<T, cpu> t(shape{5});
  const T values[] = {std::numeric_limits<T>::quiet_NaN(), std::numeric_limits<T>::infinity(),
                      -std::numeric_limits<T>::infinity(), T(-0.0), std::numeric_limits<T>::denorm_min()};
  std::copy(std::begin(values), std::end(values), t.begin());
  temp_path tmp;
  attractor::save_npy(tmp.path, t.view());  // through a tensor_view, not the tensor overload
  const auto u = attractor::load_npy<T>(tmp.path);
  CHECK(std::memcmp(t.data(), u.data(), sizeof(values)) == 0);
}

TEST_CASE("npy: files written by numpy load with the right values and save back byte for byte") {
  SUBCASE("float32 (2, 3)") {
    temp_path in, out;
    write_bytes(in.path, numpy_f32_2x3);
    const auto t = attractor::load_npy<float>(in.path);
    CHECK(t.shape() == shape{2, 3});
    const float want[] = {1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, -7.0f};
    CHECK(std::equal(t.begin(), t.end(), std::begin(want), std::end(want)));
    attractor::save_npy(out.path, t);
    CHECK(read_bytes(out.path) == numpy_f32_2x3);
  }
  SUBCASE("float64 (5,)") {
    temp_path in, out;
    write_bytes(in.path, numpy_f64_5);
    const auto t = attractor::load_npy<double>(in.path);
    CHECK(t.shape() == shape{5});
    const double want[] = {0.1, 0.2, -0.3, 1e300, -2.5};
    CHECK(std::equal(t.begin(), t.end(), std::begin(want), std::end(want)));
    attractor::save_npy(out.path, t);
    CHECK(read_bytes(out.path) == numpy_f64_5);
  }
  SUBCASE("int64 scalar ()") {
    temp_path in, out;
    write_bytes(in.path, numpy_i64_scalar);
    const auto t = attractor::load_npy<std::int64_t>(in.path);
    CHECK(t.rank() == 0);
    CHECK(t[0] == -1234567890123);
    attractor::save_npy(out.path, t);
    CHECK(read_bytes(out.path) == numpy_i64_scalar);
  }
  SUBCASE("int32 (2, 2), format 2.0") {
    temp_path in;
    write_bytes(in.path, numpy_i32_2x2_v2);
    const auto t = attractor::load_npy<std::int32_t>(in.path);
    CHECK(t.shape() == shape{2, 2});
    CHECK(t.at(0, 1) == -2);
    CHECK(t.at(1, 0) == 2147483647);
    CHECK(t.at(1, 1) == -2147483647 - 1);
  }
  SUBCASE("uint8 (3,), format 3.0") {
    temp_path in;
    write_bytes(in.path, numpy_u8_3_v3);
    const auto t = attractor::load_npy<std::uint8_t>(in.path);
    CHECK(t.shape() == shape{3});
    CHECK(t[0] == 0);
    CHECK(t[1] == 128);
    CHECK(t[2] == 255);
  }
}

TEST_CASE("npy: header dicts in any order and spacing parse") {
  const bytes six_floats(24, 0);
  const char* good[] = {
      "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}",
      "{'fortran_order':False,'descr':'<f4','shape':(2,3)}",
      "{ \"descr\" : \"<f4\" ,\t'shape' : ( 2 , 3 , ) , 'fortran_order' : False , }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }",  // Python 2
  };
  for (const char* dict : good) {
    CAPTURE(dict);
    CHECK(load_error<float>(make_npy(dict, six_floats)) == "");
  }
  // No trailing newline or padding at all is accepted too.
  std::string dict = f32_header;
  bytes bare = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<unsigned char>(dict.size()), 0};
  bare.insert(bare.end(), dict.begin(), dict.end());
  bare.insert(bare.end(), six_floats.begin(), six_floats.end());
  CHECK(load_error<float>(bare) == "");
  // 1-tuples, scalars and zero extents.
  temp_path tmp;
  write_bytes(tmp.path, make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (5,)}", bytes(40, 0)));
  CHECK(attractor::load_npy<double>(tmp.path).shape() == shape{5});
  write_bytes(tmp.path, make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': ()}", bytes(8, 0)));
  CHECK(attractor::load_npy<double>(tmp.path).rank() == 0);
  write_bytes(tmp.path, make_npy("{'descr': '<u1', 'fortran_order': False, 'shape': (0, 4, 0)}", {}));
  CHECK(attractor::load_npy<std::uint8_t>(tmp.path).shape() == shape{0, 4, 0});
}

TEST_CASE("npy: every bad input throws attractor::error naming the problem") {
  const bytes six_floats(24, 0);
  auto header = [&](const std::string& descr, const std::string& fortran, const std::string& shape_text) {
    return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape_text + ", }";
  };

  SUBCASE("missing file") {
    temp_path tmp;
    try {
      (void)attractor::load_npy<float>(tmp.path);
      FAIL("no exception");
    } catch (const attractor::error& e) {
      CHECK(contains(e.what(), {"load_npy", "no such file", "attractor_test_"}));
    }
  }
  SUBCASE("bad magic") {
    bytes b = numpy_f32_2x3;
    b[1] = 'X';
    CHECK(contains(load_error<float>(b), {"load_npy", "magic", "XUMPY"}));
    CHECK(contains(load_error<float>(bytes{'a', 'b'}), {"10 bytes", "got 2 bytes", "truncated header"}));
    CHECK(contains(load_error<float>(bytes{}), {"got 0 bytes"}));
  }
  SUBCASE("unsupported version") {
    bytes b = numpy_f32_2x3;
    b[6] = 4;
    CHECK(contains(load_error<float>(b), {"version 1.0, 2.0 or 3.0", "got version 4.0"}));
    b[6] = 1;
    b[7] = 1;
    CHECK(contains(load_error<float>(b), {"got version 1.1"}));
  }
  SUBCASE("header longer than the file") {
    bytes b = numpy_f32_2x3;
    b[9] = 0x10;  // header length 0x1076
    CHECK(contains(load_error<float>(b), {"truncated header", "4214"}));
    bytes v2 = numpy_i32_2x2_v2;
    v2[11] = 0xff;  // 4 GiB header: must not be allocated
    CHECK(contains(load_error<std::int32_t>(v2), {"truncated header"}));
  }
  SUBCASE("malformed headers") {
    const std::string bad[] = {
        "",
        "   ",
        "[]",
        "{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3)}",     // missing comma
        "{'descr' '<f4', 'fortran_order': False, 'shape': (2, 3)}",     // missing colon
        "{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}",     // quote runs into the next key
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)",     // no closing brace
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x",  // garbage after the dict
        "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (6)}",  // an int, not a tuple
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2,, 3)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (18446744073709551616,)}",
        "{'descr': '<f4', 'fortran_order': False}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}",
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}",
        "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 3)}",
        "{'descr': '<\\f4', 'fortran_order': False, 'shape': (2, 3)}",
    };
    static const char nul_dict[] = "{'descr': '<f4'\0, 'fortran_order': False, 'shape': (2, 3)}";
    for (const auto& dict : bad) {
      CAPTURE(dict);
      const std::string msg = load_error<float>(make_npy(dict, six_floats));
      CHECK(contains(msg, {"load_npy", "malformed header", "expected"}));
    }
    CHECK(contains(load_error<float>(make_npy(std::string(nul_dict, sizeof nul_dict - 1), six_floats)),
                   {"malformed header", "\\x00"}));
    CHECK(contains(load_error<float>(make_npy(header("<f4", "False", "(2, 3)") + "'x'", six_floats)),
                   {"only whitespace after the header dict"}));
    CHECK(contains(load_error<float>(make_npy("{'descr': '<f4', 'fortran_order': False}", six_floats)),
                   {"without 'shape'"}));
    CHECK(contains(
        load_error<float>(make_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,)}", six_floats)),
        {"structured dtypes are not supported"}));
    CHECK(contains(load_error<float>(make_npy(header("<f4", "False", "(6)"), six_floats)), {"(5,)"}));
  }
  SUBCASE("dtype differs from T: both are named, nothing is converted") {
    const bytes file = numpy_f32_2x3;
    CHECK(contains(load_error<double>(file), {"'<f8' (float64)", "'<f4' (float32)", "no implicit conversion"}));
    temp_path tmp;
    write_bytes(tmp.path, numpy_f64_5);
    CHECK_THROWS_AS((void)attractor::load_npy<float>(tmp.path), attractor::error);
    CHECK(contains(load_error<std::uint32_t>(make_npy(header("<i4", "False", "(6,)"), six_floats)),
                   {"'<u4' (uint32)", "'<i4' (int32)"}));
    CHECK(
        contains(load_error<std::int64_t>(make_npy(header("<i4", "False", "(3,)"), bytes(12, 0))), {"int64", "int32"}));
    CHECK(contains(load_error<std::uint8_t>(make_npy(header("|b1", "False", "(3,)"), bytes(3, 0))),
                   {"'|u1' (uint8)", "'|b1' (bool)"}));
    CHECK(contains(load_error<float>(make_npy(header("|f4", "False", "(2, 3)"), six_floats)), {"'|f4'"}));
    CHECK(contains(load_error<float>(make_npy(header("", "False", "(2, 3)"), six_floats)), {"got dtype ''"}));
    // A one-byte type has no byte order.
    CHECK(load_error<std::uint8_t>(make_npy(header("<u1", "False", "(3,)"), bytes(3, 0))) == "");
    CHECK(load_error<std::uint8_t>(make_npy(header(">u1", "False", "(3,)"), bytes(3, 0))) == "");
  }
  SUBCASE("big-endian data") {
    CHECK(contains(load_error<double>(make_npy(header(">f8", "False", "(3,)"), bytes(24, 0))),
                   {"big-endian", "'>f8'", "little-endian"}));
  }
  SUBCASE("fortran order") {
    CHECK(contains(load_error<float>(make_npy(header("<f4", "True", "(2, 3)"), six_floats)),
                   {"fortran_order True", "column-major", "not supported"}));
  }
  SUBCASE("rank above 4") {
    CHECK(contains(load_error<float>(make_npy(header("<f4", "False", "(1, 2, 1, 3, 1)"), six_floats)),
                   {"rank <= 4", "rank 5", "(1, 2, 1, 3, 1)"}));
  }
  SUBCASE("shapes whose size overflows are rejected before any allocation") {
    CHECK(contains(load_error<float>(make_npy(header("<f4", "False", "(4294967296, 4294967296)"), six_floats)),
                   {"overflow"}));
    CHECK(contains(load_error<double>(make_npy(header("<f8", "False", "(2305843009213693952,)"), six_floats)),
                   {"overflow"}));
    // Zero elements, but strides would overflow: rejected too.
    CHECK(
        contains(load_error<float>(make_npy(header("<f4", "False", "(0, 4294967296, 4294967296)"), {})), {"overflow"}));
    // Large but representable: a truncation error, not an 8 TB allocation.
    CHECK(contains(load_error<double>(make_npy(header("<f8", "False", "(1000000000000,)"), six_floats)),
                   {"truncated data", "8000000000000 bytes", "got 24 bytes"}));
  }
  SUBCASE("truncated data names both byte counts") {
    bytes b = numpy_f32_2x3;
    b.resize(b.size() - 4);
    CHECK(contains(load_error<float>(b), {"truncated data", "expected 24 bytes", "got 20 bytes", "(2, 3)"}));
  }
  SUBCASE("trailing bytes after the array are an error") {
    bytes b = numpy_f32_2x3;
    b.push_back(0);
    CHECK(contains(load_error<float>(b), {"trailing bytes", "expected 24 bytes", "got 25 bytes"}));
  }
  SUBCASE("a directory is not a file") {
    temp_path tmp;
    fs::create_directory(tmp.path);
    CHECK_THROWS_AS((void)attractor::load_npy<float>(tmp.path), attractor::error);
  }
}

TEST_CASE("npy: truncated and corrupted files either load or throw attractor::error, never crash") {
  std::mt19937 rng(12345);
  const std::string header_chars = "{}()[],:'\" \n0123456789TrueFalsdcrhpo_<>|fiu";
  std::size_t loaded = 0, rejected = 0;
  temp_path tmp;
  auto attempt = [&](const bytes& file, int as) {
    write_bytes(tmp.path, file);
    try {
      switch (as) {
        case 0: (void)attractor::load_npy<float>(tmp.path); break;
        case 1: (void)attractor::load_npy<double>(tmp.path); break;
        case 2: (void)attractor::load_npy<std::int32_t>(tmp.path); break;
        default: (void)attractor::load_npy<std::uint8_t>(tmp.path); break;
      }
      ++loaded;
    } catch (const attractor::error&) {
      ++rejected;
    }
  };
  const bytes* seeds[] = {&numpy_f32_2x3, &numpy_f64_5, &numpy_i32_2x2_v2, &numpy_u8_3_v3};
  const int types[] = {0, 1, 2, 3};
  for (int s = 0; s < 4; ++s) {
    const bytes& seed = *seeds[s];
    for (std::size_t n = 0; n <= seed.size(); ++n)
      attempt(bytes(seed.begin(), seed.begin() + static_cast<std::ptrdiff_t>(n)), types[s]);
    const std::size_t header_end = seed[6] == 1 ? 10 + seed[8] : 12 + seed[8];
    for (int round = 0; round < 500; ++round) {
      bytes b = seed;
      const int flips = 1 + static_cast<int>(rng() % 3);
      for (int f = 0; f < flips; ++f) {
        const std::size_t at = rng() % header_end;
        b[at] = (rng() % 2) ? static_cast<unsigned char>(rng())
                            : static_cast<unsigned char>(header_chars[rng() % header_chars.size()]);
      }
      if (rng() % 4 == 0) b.resize(rng() % (b.size() + 1));
      attempt(b, static_cast<int>(rng() % 4));
    }
  }
  MESSAGE("fuzz: ", loaded, " loaded, ", rejected, " rejected");
  CHECK(loaded >= 4);  // at least each untouched seed
  CHECK(rejected > 1000);
}

TEST_CASE("npy: save writes a temporary file and renames it into place") {
  tensor<double, cpu> t(shape{2, 2});
  std::fill(t.begin(), t.end(), 1.5);

  SUBCASE("a missing directory throws and creates nothing") {
    temp_path dir;
    const fs::path target = dir.path / "a.npy";
    try {
      attractor::save_npy(target, t);
      FAIL("no exception");
    } catch (const attractor::error& e) {
      CHECK(contains(e.what(), {"save_npy", "a.npy", "writable directory"}));
    }
    CHECK_FALSE(fs::exists(dir.path));
  }
  SUBCASE("a failed rename removes the temporary and leaves the directory as it was") {
    temp_path dir;
    fs::create_directory(dir.path);
    const fs::path target = dir.path / "a.npy";
    fs::create_directory(target);  // a directory in the way: the rename fails
    fs::create_directory(target / "keep");
    CHECK_THROWS_AS(attractor::save_npy(target, t), attractor::error);
    std::vector<fs::path> entries(fs::directory_iterator(dir.path), fs::directory_iterator{});
    REQUIRE(entries.size() == 1);
    CHECK(entries[0] == target);
    CHECK(fs::is_directory(target / "keep"));
  }
  SUBCASE("saving over an existing file replaces it as a whole") {
    temp_path dir;
    fs::create_directory(dir.path);
    const fs::path target = dir.path / "a.npy";
    const fs::path link = dir.path / "old.npy";
    write_bytes(target, numpy_f64_5);
    fs::create_hard_link(target, link);
    attractor::save_npy(target, t);
    // A rename swaps the directory entry: the old inode (still reachable through the hard link) is untouched,
    // which an in-place rewrite could not achieve.
    CHECK(read_bytes(link) == numpy_f64_5);
    const auto u = attractor::load_npy<double>(target);
    CHECK(u.shape() == shape{2, 2});
    CHECK(u.at(1, 1) == 1.5);
    std::vector<fs::path> entries(fs::directory_iterator(dir.path), fs::directory_iterator{});
    CHECK(entries.size() == 2);  // no temporary left behind
  }
}
