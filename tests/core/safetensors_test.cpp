#include "core/safetensors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include "core/atomic_file.h"
#include "core/error.h"

namespace dreamdpo::core {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class SafetensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("dreamdpo_safetensors_" + std::string(info->name()) + "_" +
            std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

std::string le_u64(std::uint64_t value) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  return out;
}

// A file from a hand-written header and raw data bytes.
std::string make_file(const std::string& header, const std::string& data) {
  return le_u64(header.size()) + header + data;
}

template <class T>
std::string raw_bytes(std::initializer_list<T> values) {
  std::string out;
  for (T value : values) out.append(reinterpret_cast<const char*>(&value), sizeof(T));
  return out;
}

// The message of the dreamdpo::Error that parsing throws; a test failure if none is thrown.
std::string parse_error(const std::string& bytes, const std::string& origin = "test.safetensors") {
  try {
    parse_safetensors(bytes, origin);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "parse_safetensors accepted invalid input";
  return "";
}

bool bitwise_equal(const at::Tensor& a, const at::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  if (a.numel() == 0) return true;
  const at::Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.numel() * ca.element_size()) == 0;
}

std::map<std::string, at::Tensor> sample_tensors() {
  std::map<std::string, at::Tensor> tensors;
  tensors["f64"] = at::arange(6, at::kDouble).reshape({2, 3}).mul(0.1);
  tensors["f32"] = at::linspace(-3.0, 5.0, 108, at::kFloat).reshape({4, 3, 3, 3});
  tensors["f16"] = at::linspace(-1.0, 1.0, 5, at::kFloat).to(at::kHalf);
  tensors["bf16"] = at::tensor({1.5f, -2.25f, 1e30f, -0.0f}).to(at::kBFloat16).reshape({2, 2});
  tensors["i64_scalar"] = at::scalar_tensor(static_cast<std::int64_t>(-1234567890123LL), at::kLong);
  tensors["i32_empty"] = at::empty({3, 0}, at::kInt);
  tensors["i16"] = at::tensor({-32768, 0, 32767}, at::kInt).to(at::kShort);
  tensors["i8"] = at::tensor({-128, -1, 0, 127}, at::kInt).to(at::kChar);
  tensors["u8"] = at::arange(250, 257, at::kInt).remainder(256).to(at::kByte);
  tensors["bool"] = at::tensor({1, 0, 0, 1, 1, 0}, at::kInt).to(at::kBool).reshape({2, 3});
  // A non-contiguous view: the writer must make it contiguous.
  tensors["f32_transposed"] = at::arange(12, at::kFloat).reshape({3, 4}).t();
  return tensors;
}

TEST_F(SafetensorsTest, RoundTripKeepsEveryDtypeAndShapeBitForBit) {
  const auto tensors = sample_tensors();
  const fs::path path = dir_ / "model.safetensors";
  write_safetensors(path, tensors);
  const SafetensorsFile file = read_safetensors(path);
  ASSERT_EQ(file.tensors.size(), tensors.size());
  EXPECT_TRUE(file.metadata.empty());
  for (const auto& [key, expected] : tensors) {
    SCOPED_TRACE(key);
    ASSERT_EQ(file.tensors.count(key), 1u);
    const at::Tensor& got = file.tensors.at(key);
    EXPECT_TRUE(got.is_contiguous());
    EXPECT_EQ(got.device(), at::Device(at::kCPU));
    EXPECT_TRUE(bitwise_equal(got, expected));
  }
  EXPECT_EQ(file.tensors.at("i64_scalar").dim(), 0);
  EXPECT_EQ(file.tensors.at("i64_scalar").item<std::int64_t>(), std::int64_t{-1234567890123LL});
  EXPECT_EQ(file.tensors.at("i32_empty").numel(), 0);
  EXPECT_EQ(file.tensors.at("i32_empty").sizes(), at::IntArrayRef({3, 0}));
  // No temporary file left next to the result.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);
}

TEST_F(SafetensorsTest, MetadataRoundTrips) {
  const std::map<std::string, std::string> metadata = {
      {"format", "pt"}, {"step", "1200"}, {"prompt", "a \"quoted\" cat\nüñí"}, {"", ""}};
  const std::string bytes = serialize_safetensors({{"w", at::ones({2})}}, metadata);
  const SafetensorsFile file = parse_safetensors(bytes, "mem");
  EXPECT_EQ(file.metadata, metadata);
  EXPECT_TRUE(bitwise_equal(file.tensors.at("w"), at::ones({2})));
}

TEST_F(SafetensorsTest, EmptyFileRoundTrips) {
  const std::string bytes = serialize_safetensors({});
  const SafetensorsFile file = parse_safetensors(bytes, "mem");
  EXPECT_TRUE(file.tensors.empty());
  EXPECT_TRUE(file.metadata.empty());
}

TEST_F(SafetensorsTest, HeaderIsPaddedToEightBytesAndDataIsPacked) {
  for (const auto& metadata : std::vector<std::map<std::string, std::string>>{
           {}, {{"a", "b"}}, {{"abc", "de"}}, {{"x", "1234567"}}}) {
    const auto tensors = sample_tensors();
    const std::string bytes = serialize_safetensors(tensors, metadata);
    ASSERT_GE(bytes.size(), 8u);
    std::uint64_t header_size = 0;
    std::memcpy(&header_size, bytes.data(), 8);
    EXPECT_EQ(header_size % 8, 0u);
    std::int64_t data_size = 0;
    for (const auto& [key, tensor] : tensors) data_size += tensor.numel() * tensor.element_size();
    EXPECT_EQ(bytes.size(), 8 + header_size + static_cast<std::uint64_t>(data_size));
    // Padding is spaces after the JSON object.
    const std::string header = bytes.substr(8, header_size);
    const auto last_brace = header.find_last_of('}');
    ASSERT_NE(last_brace, std::string::npos);
    EXPECT_EQ(header.find_first_not_of(' ', last_brace + 1), std::string::npos);
  }
}

TEST_F(SafetensorsTest, WriterProducesTheExpectedBytes) {
  const std::string bytes =
      serialize_safetensors({{"b", at::tensor({1.0f, 2.0f})}, {"a", at::tensor({7}, at::kByte)}});
  const std::string header =
      R"({"a":{"data_offsets":[0,1],"dtype":"U8","shape":[1]},)"
      R"("b":{"data_offsets":[1,9],"dtype":"F32","shape":[2]}})";
  const std::string padded = header + std::string((8 - header.size() % 8) % 8, ' ');
  EXPECT_EQ(bytes, make_file(padded, std::string("\x07", 1) + raw_bytes<float>({1.0f, 2.0f})));
}

// write_safetensors streams to disk; the file must be byte for byte what serialize_safetensors
// builds in memory (including non-contiguous inputs and metadata).
TEST_F(SafetensorsTest, StreamedFileEqualsTheSerializedBytes) {
  const auto tensors = sample_tensors();
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "streamed"}};
  const fs::path path = dir_ / "streamed.safetensors";
  write_safetensors(path, tensors, metadata);
  EXPECT_EQ(read_file(path), serialize_safetensors(tensors, metadata));
}

TEST_F(SafetensorsTest, ParsesAHandBuiltFile) {
  // Key order, offsets and an unpadded header as another writer might produce them.
  const std::string header =
      R"({"__metadata__":{"format":"pt"},)"
      R"( "weight":{"dtype":"F32","shape":[1,2],"data_offsets":[8,16]},)"
      R"( "ids":{"shape":[2],"dtype":"I32","data_offsets":[0,8]},)"
      R"( "half":{"dtype":"F16","shape":[],"data_offsets":[16,18]},)"
      R"( "flag":{"dtype":"BOOL","shape":[2],"data_offsets":[18,20]},)"
      R"( "none":{"dtype":"I64","shape":[0,5],"data_offsets":[20,20]}})";
  const std::string data = raw_bytes<std::int32_t>({1, -2}) + raw_bytes<float>({1.5f, -0.25f}) +
                           std::string("\x00\x3c", 2) /* 1.0 in F16 */ +
                           std::string("\x01\x00", 2);
  const SafetensorsFile file = parse_safetensors(make_file(header, data), "hand.safetensors");
  EXPECT_EQ(file.metadata, (std::map<std::string, std::string>{{"format", "pt"}}));
  ASSERT_EQ(file.tensors.size(), 5u);
  EXPECT_TRUE(bitwise_equal(file.tensors.at("ids"), at::tensor({1, -2}, at::kInt)));
  EXPECT_TRUE(bitwise_equal(file.tensors.at("weight"), at::tensor({1.5f, -0.25f}).reshape({1, 2})));
  EXPECT_EQ(file.tensors.at("half").scalar_type(), at::kHalf);
  EXPECT_EQ(file.tensors.at("half").dim(), 0);
  EXPECT_EQ(file.tensors.at("half").item<float>(), 1.0f);
  EXPECT_TRUE(bitwise_equal(file.tensors.at("flag"), at::tensor({1, 0}, at::kInt).to(at::kBool)));
  EXPECT_EQ(file.tensors.at("none").sizes(), at::IntArrayRef({0, 5}));
  EXPECT_EQ(file.tensors.at("none").scalar_type(), at::kLong);
}

TEST_F(SafetensorsTest, ReturnedTensorsOwnTheirMemory) {
  std::string bytes = serialize_safetensors({{"x", at::tensor({1.0f, 2.0f, 3.0f})}});
  const SafetensorsFile file = parse_safetensors(bytes, "mem");
  std::fill(bytes.begin(), bytes.end(), '\0');
  bytes.clear();
  bytes.shrink_to_fit();
  EXPECT_TRUE(bitwise_equal(file.tensors.at("x"), at::tensor({1.0f, 2.0f, 3.0f})));
}

TEST_F(SafetensorsTest, RejectsTruncatedFiles) {
  const std::string bytes = serialize_safetensors(sample_tensors());
  std::uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);

  for (std::size_t cut : {0, 1, 4, 7}) {
    SCOPED_TRACE(cut);
    const std::string message = parse_error(bytes.substr(0, cut));
    EXPECT_THAT(message, HasSubstr("test.safetensors"));
    EXPECT_THAT(message, HasSubstr("too short"));
  }
  for (std::size_t cut : {std::size_t{8}, std::size_t{9}, 8 + header_size / 2, 8 + header_size - 1}) {
    SCOPED_TRACE(cut);
    const std::string message = parse_error(bytes.substr(0, cut));
    EXPECT_THAT(message, HasSubstr("header length " + std::to_string(header_size)));
    EXPECT_THAT(message, HasSubstr("truncated"));
  }
  // Cut inside the data: the last tensor in the buffer runs past the end.
  for (std::size_t cut : {bytes.size() - 1, bytes.size() - 3}) {
    SCOPED_TRACE(cut);
    const std::string message = parse_error(bytes.substr(0, cut));
    EXPECT_THAT(message, HasSubstr("tensor '"));
    EXPECT_THAT(message, HasSubstr("data_offsets"));
    EXPECT_THAT(message, HasSubstr("truncated"));
  }
  // Cut exactly after the header: every non-empty tensor is missing.
  EXPECT_THAT(parse_error(bytes.substr(0, 8 + header_size)), HasSubstr("data buffer holds only 0 bytes"));
}

TEST_F(SafetensorsTest, RejectsLyingHeaderLength) {
  std::string bytes = serialize_safetensors({{"x", at::ones({4})}});
  const std::string lying = le_u64(bytes.size()) + bytes.substr(8);
  EXPECT_THAT(parse_error(lying), HasSubstr("header length " + std::to_string(bytes.size())));
  const std::string huge = le_u64(std::uint64_t{1} << 62) + bytes.substr(8);
  EXPECT_THAT(parse_error(huge), HasSubstr("exceeds"));
  const std::string max = le_u64(~std::uint64_t{0}) + bytes.substr(8);
  EXPECT_THAT(parse_error(max), HasSubstr("exceeds"));
}

TEST_F(SafetensorsTest, RejectsHeadersThatAreNotJsonObjects) {
  EXPECT_THAT(parse_error(make_file("this is not json", "")), HasSubstr("not valid JSON"));
  EXPECT_THAT(parse_error(make_file(R"({"x": {"dtype": "F32",)", "")), HasSubstr("not valid JSON"));
  EXPECT_THAT(parse_error(make_file("[1, 2, 3]", "")), HasSubstr("must be an object"));
  EXPECT_THAT(parse_error(make_file("", "")), HasSubstr("not valid JSON"));
  EXPECT_THAT(parse_error(make_file(std::string(10000, '[') + std::string(10000, ']'), "")),
              HasSubstr("nested deeper"));
}

TEST_F(SafetensorsTest, RejectsMalformedEntries) {
  const std::string data(16, '\0');
  auto error_for = [&](const std::string& entry) {
    return parse_error(make_file(R"({"layer.w": )" + entry + "}", data));
  };
  EXPECT_THAT(error_for("[1, 2]"), HasSubstr("expected an object"));
  EXPECT_THAT(error_for(R"({"shape":[2],"data_offsets":[0,8]})"), HasSubstr("no \"dtype\""));
  EXPECT_THAT(error_for(R"({"dtype":5,"shape":[2],"data_offsets":[0,8]})"),
              HasSubstr("expected a string"));
  EXPECT_THAT(error_for(R"({"dtype":"F32","data_offsets":[0,8]})"), HasSubstr("no \"shape\""));
  EXPECT_THAT(error_for(R"({"dtype":"F32","shape":2,"data_offsets":[0,8]})"),
              HasSubstr("expected an array of integers"));
  EXPECT_THAT(error_for(R"({"dtype":"F32","shape":[2]})"), HasSubstr("no \"data_offsets\""));
  EXPECT_THAT(error_for(R"({"dtype":"F32","shape":[2],"data_offsets":[0]})"),
              HasSubstr("two non-negative integers"));
  EXPECT_THAT(error_for(R"({"dtype":"F32","shape":[2],"data_offsets":[0,8,9]})"),
              HasSubstr("two non-negative integers"));
  EXPECT_THAT(error_for(R"({"dtype":"F32","shape":[2],"data_offsets":[-8,0]})"),
              HasSubstr("two non-negative integers"));
  EXPECT_THAT(error_for(R"({"dtype":"F32","shape":[2],"data_offsets":[0.0,8.0]})"),
              HasSubstr("two non-negative integers"));
  EXPECT_THAT(error_for(R"({"dtype":"F32","shape":[2],"data_offsets":["0","8"]})"),
              HasSubstr("two non-negative integers"));
  EXPECT_THAT(error_for(R"({"dtype":"F32","shape":[0],"data_offsets":[8,0]})"),
              HasSubstr("begin <= end"));
  EXPECT_THAT(error_for(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})"),
              HasSubstr("test.safetensors: tensor 'layer.w'"));
  // The same entry with consistent offsets is accepted (gaps in the buffer are allowed).
  EXPECT_NO_THROW(parse_safetensors(
      make_file(R"({"layer.w": {"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", data), "ok"));
}

TEST_F(SafetensorsTest, RejectsUnknownDtype) {
  const std::string message = parse_error(
      make_file(R"({"fp8.w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})", "ab"));
  EXPECT_THAT(message, HasSubstr("tensor 'fp8.w'"));
  EXPECT_THAT(message, HasSubstr("unsupported dtype 'F8_E4M3'"));
}

TEST_F(SafetensorsTest, RejectsBadShapes) {
  const std::string negative =
      parse_error(make_file(R"({"w":{"dtype":"F32","shape":[2,-3],"data_offsets":[0,8]}})",
                            std::string(8, '\0')));
  EXPECT_THAT(negative, HasSubstr("tensor 'w'"));
  EXPECT_THAT(negative, HasSubstr("-3"));
  EXPECT_THAT(negative, HasSubstr("non-negative integer"));
  EXPECT_THAT(parse_error(make_file(R"({"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})",
                                    std::string(8, '\0'))),
              HasSubstr("non-negative integer"));
  // 2^32 * 2^32 overflows int64 even before multiplying by the element size.
  const std::string overflow = parse_error(make_file(
      R"({"big":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}})",
      std::string(8, '\0')));
  EXPECT_THAT(overflow, HasSubstr("tensor 'big'"));
  EXPECT_THAT(overflow, HasSubstr("overflows"));
  // The element count fits but the byte count does not.
  EXPECT_THAT(parse_error(make_file(
                  R"({"big":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}})",
                  std::string(8, '\0'))),
              HasSubstr("overflows"));
  // Larger than int64 in the JSON itself.
  EXPECT_THAT(parse_error(make_file(
                  R"({"big":{"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,8]}})",
                  std::string(8, '\0'))),
              HasSubstr("non-negative integer"));
  // A huge but non-overflowing shape must fail on the size check, not try to allocate.
  EXPECT_THAT(parse_error(make_file(
                  R"({"big":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,8]}})",
                  std::string(8, '\0'))),
              HasSubstr("needs 4000000000000 bytes"));
}

TEST_F(SafetensorsTest, RejectsOffsetsPastTheEnd) {
  const std::string message = parse_error(
      make_file(R"({"w":{"dtype":"U8","shape":[100],"data_offsets":[0,100]}})", std::string(8, 'x')));
  EXPECT_THAT(message, HasSubstr("tensor 'w' has data_offsets [0, 100]"));
  EXPECT_THAT(message, HasSubstr("holds only 8 bytes"));
}

TEST_F(SafetensorsTest, RejectsOffsetsThatDisagreeWithTheShape) {
  const std::string message = parse_error(
      make_file(R"({"unet.conv_in.weight":{"dtype":"F32","shape":[4,3,3,3],"data_offsets":[0,96]}})",
                std::string(96, '\0')),
      "model.safetensors");
  EXPECT_THAT(message,
              HasSubstr("model.safetensors: tensor 'unet.conv_in.weight' has data_offsets [0, 96] "
                        "but shape [4,3,3,3] of F32 needs 432 bytes"));
}

TEST_F(SafetensorsTest, RejectsOverlappingTensors) {
  const std::string message = parse_error(make_file(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      std::string(12, '\0')));
  EXPECT_THAT(message, HasSubstr("tensor 'b'"));
  EXPECT_THAT(message, HasSubstr("overlaps tensor 'a'"));
  // Identical ranges overlap too.
  EXPECT_THAT(parse_error(make_file(R"({"a":{"dtype":"I32","shape":[1],"data_offsets":[0,4]},)"
                                    R"("b":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})",
                                    std::string(4, '\0'))),
              HasSubstr("overlaps"));
  // Empty tensors may sit anywhere, even inside another tensor's bytes.
  EXPECT_NO_THROW(parse_safetensors(
      make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})",
                std::string(8, '\0')),
      "ok"));
}

TEST_F(SafetensorsTest, RejectsNonStringMetadata) {
  const std::string message = parse_error(make_file(R"({"__metadata__":{"step":12}})", ""));
  EXPECT_THAT(message, HasSubstr("metadata 'step'"));
  EXPECT_THAT(message, HasSubstr("must be strings"));
  EXPECT_THAT(parse_error(make_file(R"({"__metadata__":"pt"})", "")),
              HasSubstr("must be an object of strings"));
}

TEST_F(SafetensorsTest, NormalisesBoolBytes) {
  const SafetensorsFile file = parse_safetensors(
      make_file(R"({"b":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})", std::string("\x00\x02\xff", 3)),
      "mem");
  const at::Tensor b = file.tensors.at("b");
  EXPECT_EQ(b.to(at::kInt).sum().item<int>(), 2);
  EXPECT_EQ(static_cast<const std::uint8_t*>(b.data_ptr())[2], 1);
}

TEST_F(SafetensorsTest, WriterRejectsWhatTheFormatCannotHold) {
  try {
    serialize_safetensors({{"c", at::ones({2}, at::kComplexFloat)}});
    ADD_FAILURE() << "complex tensor accepted";
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("tensor 'c'"));
  }
  EXPECT_THROW(serialize_safetensors({{"__metadata__", at::ones({2})}}), Error);
  EXPECT_THROW(serialize_safetensors({{"u", at::Tensor()}}), Error);
  EXPECT_THROW(safetensors_dtype_name(at::kComplexDouble), Error);
  EXPECT_EQ(safetensors_dtype_name(at::kBFloat16), "BF16");
}

TEST_F(SafetensorsTest, FileErrorsNameThePath) {
  const fs::path missing = dir_ / "missing.safetensors";
  try {
    read_safetensors(missing);
    ADD_FAILURE() << "missing file accepted";
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("missing.safetensors"));
  }
  const fs::path garbage = dir_ / "garbage.safetensors";
  write_file_atomic(garbage, "GIF89a this is no safetensors file");
  try {
    read_safetensors(garbage);
    ADD_FAILURE() << "garbage accepted";
  } catch (const Error& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr(garbage.string()));
  }
  const fs::path unwritable = dir_ / "no_such_folder" / "x.safetensors";
  EXPECT_THROW(write_safetensors(unwritable, {{"x", at::ones({1})}}), Error);
  EXPECT_FALSE(fs::exists(dir_ / "no_such_folder"));
}

// Parses must either succeed or throw dreamdpo::Error: never another exception, never a crash.
void expect_parse_is_safe(const std::string& bytes, std::size_t& accepted, std::size_t& rejected) {
  try {
    const SafetensorsFile file = parse_safetensors(bytes, "fuzz");
    for (const auto& [key, tensor] : file.tensors) {
      // Touch every byte to catch any buffer mistakes under sanitizers.
      if (tensor.numel() > 0) (void)tensor.to(at::kDouble).sum().item<double>();
    }
    ++accepted;
  } catch (const Error&) {
    ++rejected;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "unexpected exception type: " << e.what();
  } catch (...) {
    ADD_FAILURE() << "unexpected non-standard exception";
  }
}

TEST_F(SafetensorsTest, FuzzedBytesNeverCrashOrThrowOtherErrors) {
  std::map<std::string, at::Tensor> tensors = {
      {"a", at::arange(6, at::kFloat).reshape({2, 3})},
      {"b", at::tensor({1, 2, 3}, at::kLong)},
      {"c", at::scalar_tensor(1.5, at::kHalf)},
      {"d", at::empty({0}, at::kByte)},
      {"e", at::tensor({1, 0}, at::kInt).to(at::kBool)}};
  const std::string valid = serialize_safetensors(tensors, {{"k", "v"}});
  std::size_t accepted = 0, rejected = 0;

  for (std::size_t cut = 0; cut < valid.size(); ++cut) {
    expect_parse_is_safe(valid.substr(0, cut), accepted, rejected);
  }
  const unsigned char replacements[] = {0x00, 0x01, 0x80, 0xff, '"', '-', '9', '[', '}', ' ', '.'};
  for (std::size_t pos = 0; pos < valid.size(); ++pos) {
    for (unsigned char replacement : replacements) {
      std::string mutated = valid;
      mutated[pos] = static_cast<char>(replacement);
      expect_parse_is_safe(mutated, accepted, rejected);
    }
    std::string flipped = valid;
    flipped[pos] = static_cast<char>(flipped[pos] ^ 0x04);
    expect_parse_is_safe(flipped, accepted, rejected);
  }
  std::mt19937 rng(1234);
  for (int round = 0; round < 3000; ++round) {
    std::string mutated = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < edits; ++i) {
      mutated[rng() % mutated.size()] = static_cast<char>(rng() & 0xff);
    }
    if (rng() % 3 == 0) mutated.resize(rng() % (mutated.size() + 1));
    expect_parse_is_safe(mutated, accepted, rejected);
  }
  EXPECT_GT(accepted, 0u);  // e.g. mutations inside tensor data are still valid files
  EXPECT_GT(rejected, 0u);
  EXPECT_EQ(valid, serialize_safetensors(tensors, {{"k", "v"}}));
}

}  // namespace
}  // namespace dreamdpo::core
