// The PyTorch zip checkpoint reader: every tensor of files made by torch.save (fixtures from
// tests/fixtures/make_checkpoint_fixtures.py), views sharing storages, ZIP64 records, and clear
// errors -- never a crash -- on legacy, compressed, truncated, damaged or hostile files.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <cstring>
#include <random>
#include <sstream>

#include "core/safetensors.h"
#include "models/checkpoint/torch_zip_reader.h"
#include "test_helpers.h"

namespace {
namespace fs = std::filesystem;
using dreamdpo::testing_helpers::error_of;
using ::testing::HasSubstr;
namespace ckpt = dreamdpo::models::checkpoint;

fs::path fixtures() { return fs::path(DREAMDPO_TEST_DATA_DIR).parent_path() / "fixtures" / "checkpoint"; }

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The tensors of expected.safetensors under `prefix`, prefix removed.
std::map<std::string, at::Tensor> expected(const std::string& prefix) {
  std::map<std::string, at::Tensor> out;
  for (const auto& [name, t] : dreamdpo::core::read_safetensors(fixtures() / "expected.safetensors").tensors) {
    if (name.rfind(prefix, 0) == 0) out[name.substr(prefix.size())] = t;
  }
  return out;
}

void expect_same_tensors(const ckpt::TensorMap& got, const std::map<std::string, at::Tensor>& want) {
  std::vector<std::string> got_names, want_names;
  for (const auto& item : got) got_names.push_back(item.first);
  for (const auto& item : want) want_names.push_back(item.first);
  ASSERT_EQ(got_names, want_names);
  for (const auto& [name, w] : want) {
    const auto& g = got.at(name);
    EXPECT_EQ(g.scalar_type(), w.scalar_type()) << name;
    EXPECT_EQ(g.sizes(), w.sizes()) << name;
    EXPECT_TRUE(at::equal(g.contiguous(), w)) << name;
  }
}

// A stored zip archive; with zip64, sizes and offsets go through ZIP64 extra fields and records.
std::string make_zip(const std::vector<std::pair<std::string, std::string>>& entries, bool zip64 = false) {
  auto put = [](std::string& out, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  };
  std::string out, directory;
  for (const auto& [name, data] : entries) {
    const std::uint64_t offset = out.size();
    put(out, 0x04034b50, 4);
    put(out, 45, 2);
    put(out, 0, 2);
    put(out, 0, 2);  // stored
    put(out, 0, 4);
    put(out, 0, 4);  // crc (not checked)
    put(out, zip64 ? 0xFFFFFFFF : data.size(), 4);
    put(out, zip64 ? 0xFFFFFFFF : data.size(), 4);
    put(out, name.size(), 2);
    put(out, 0, 2);
    out += name + data;
    put(directory, 0x02014b50, 4);
    put(directory, 45, 2);
    put(directory, 45, 2);
    put(directory, 0, 2);
    put(directory, 0, 2);
    put(directory, 0, 4);
    put(directory, 0, 4);
    put(directory, zip64 ? 0xFFFFFFFF : data.size(), 4);
    put(directory, zip64 ? 0xFFFFFFFF : data.size(), 4);
    put(directory, name.size(), 2);
    put(directory, zip64 ? 28 : 0, 2);
    put(directory, 0, 2);
    put(directory, 0, 2);
    put(directory, 0, 2);
    put(directory, 0, 4);
    put(directory, zip64 ? 0xFFFFFFFF : offset, 4);
    directory += name;
    if (zip64) {
      put(directory, 1, 2);
      put(directory, 24, 2);
      put(directory, data.size(), 8);
      put(directory, data.size(), 8);
      put(directory, offset, 8);
    }
  }
  const std::uint64_t directory_offset = out.size();
  out += directory;
  if (zip64) {
    const std::uint64_t record = out.size();
    put(out, 0x06064b50, 4);
    put(out, 44, 8);
    put(out, 45, 2);
    put(out, 45, 2);
    put(out, 0, 4);
    put(out, 0, 4);
    put(out, entries.size(), 8);
    put(out, entries.size(), 8);
    put(out, directory.size(), 8);
    put(out, directory_offset, 8);
    put(out, 0x07064b50, 4);
    put(out, 0, 4);
    put(out, record, 8);
    put(out, 1, 4);
  }
  put(out, 0x06054b50, 4);
  put(out, 0, 2);
  put(out, 0, 2);
  put(out, zip64 ? 0xFFFF : entries.size(), 2);
  put(out, zip64 ? 0xFFFF : entries.size(), 2);
  put(out, zip64 ? 0xFFFFFFFF : directory.size(), 4);
  put(out, zip64 ? 0xFFFFFFFF : directory_offset, 4);
  put(out, 0, 2);
  return out;
}

// A pickle of {"w": FloatStorage tensor of `numel` floats (key "0"), shape [numel], at `offset`}.
std::string tensor_pickle(std::int64_t numel, std::int64_t offset = 0) {
  std::string p;
  auto op = [&p](char c) { p.push_back(c); };
  auto unicode = [&p](const std::string& text) {  // BINUNICODE
    p.push_back('X');
    for (int i = 0; i < 4; ++i) p.push_back(static_cast<char>((text.size() >> (8 * i)) & 0xFF));
    p += text;
  };
  auto small_int = [&p](std::int64_t v) {  // BININT1
    p.push_back('K');
    p.push_back(static_cast<char>(v));
  };
  op('\x80'), op('\x02'), op('}');               // PROTO 2, EMPTY_DICT
  unicode("w");
  p += "ctorch._utils\n_rebuild_tensor_v2\n";    // GLOBAL
  op('(');                                       // MARK (arguments)
  op('(');                                       // MARK (persistent id)
  unicode("storage");
  p += "ctorch\nFloatStorage\n";
  unicode("0");
  unicode("cpu");
  small_int(numel);
  op('t'), op('Q');                              // TUPLE, BINPERSID
  small_int(offset);
  small_int(numel), op('\x85');                  // size (numel,)
  small_int(1), op('\x85');                      // stride (1,)
  op('\x89');                                    // requires_grad False
  p += "ccollections\nOrderedDict\n";
  op(')'), op('R');                              // backward hooks: OrderedDict()
  op('t'), op('R'), op('s'), op('.');            // args tuple, REDUCE, SETITEM, STOP
  return p;
}

std::string floats(std::initializer_list<float> values) {
  std::string out(values.size() * 4, '\0');
  std::memcpy(out.data(), values.begin(), out.size());
  return out;
}

TEST(TorchZipReader, ReadsEveryTensorOfALightningCheckpoint) {
  const auto got = ckpt::read_torch_checkpoint(fixtures() / "lightning.ckpt");
  expect_same_tensors(got, expected("lightning."));
  // Opaque objects (argparse.Namespace, a callback class, numpy scalars) are skipped, not run.
  EXPECT_EQ(got.count("callbacks"), 0u);
}

TEST(TorchZipReader, ViewsShareOneStorage) {
  const auto got = ckpt::read_torch_checkpoint(fixtures() / "lightning.ckpt");
  const auto& base = got.at("state_dict.views.base");
  const auto& rows = got.at("state_dict.views.rows");
  const auto& transposed = got.at("state_dict.views.transposed");
  const auto& strided = got.at("state_dict.views.strided");
  EXPECT_EQ(rows.storage_offset(), 6);
  EXPECT_EQ(transposed.strides(), (std::vector<std::int64_t>{1, 6}));
  EXPECT_EQ(strided.strides(), (std::vector<std::int64_t>{12, 2}));
  EXPECT_EQ(strided.storage_offset(), 1);
  EXPECT_TRUE(rows.storage().is_alias_of(base.storage()));
  EXPECT_TRUE(strided.storage().is_alias_of(base.storage()));
}

TEST(TorchZipReader, ReadsAPlainStateDictWithATensorUnderTwoNames) {
  const auto got = ckpt::read_torch_checkpoint(fixtures() / "plain.bin");
  expect_same_tensors(got, expected("plain."));
  EXPECT_TRUE(got.at("layer.shared").storage().is_alias_of(got.at("layer.0.weight").storage()));
}

TEST(TorchZipReader, ReadsZip64Records) {
  const auto pickle = tensor_pickle(3);
  for (bool zip64 : {false, true}) {
    const auto zip = make_zip({{"archive/data.pkl", pickle}, {"archive/data/0", floats({1, 2, 3})},
                               {"archive/byteorder", "little"}},
                              zip64);
    const auto got = ckpt::parse_torch_checkpoint(zip, "test.pt");
    ASSERT_EQ(got.size(), 1u) << zip64;
    EXPECT_TRUE(at::equal(got.at("w"), at::tensor({1.f, 2.f, 3.f}))) << zip64;
  }
}

TEST(TorchZipReader, ClearErrorsOnBadFiles) {
  EXPECT_THAT(error_of([] { ckpt::read_torch_checkpoint(fixtures() / "legacy.pt"); }),
              HasSubstr("legacy PyTorch checkpoint"));
  EXPECT_THAT(error_of([] { ckpt::read_torch_checkpoint(fixtures() / "missing.pt"); }), HasSubstr("does not exist"));
  EXPECT_THAT(error_of([] { ckpt::parse_torch_checkpoint("hello world, not a zip", "x.pt"); }),
              HasSubstr("x.pt: is not a PyTorch zip checkpoint"));
  const auto bytes = slurp(fixtures() / "lightning.ckpt");
  EXPECT_THAT(error_of([&] { ckpt::parse_torch_checkpoint(bytes.substr(0, bytes.size() - 30), "cut.ckpt"); }),
              HasSubstr("cut.ckpt: "));
  // Compression method 8 (deflate) in the first central-directory entry.
  auto compressed = bytes;
  compressed[compressed.find("PK\x01\x02") + 10] = 8;
  EXPECT_THAT(error_of([&] { ckpt::parse_torch_checkpoint(compressed, "z.ckpt"); }), HasSubstr("is compressed"));
  // A storage record pointing at an entry that is not there.
  const auto pickle = tensor_pickle(3);
  EXPECT_THAT(error_of([&] { ckpt::parse_torch_checkpoint(make_zip({{"a/data.pkl", pickle}}), "m.pt"); }),
              HasSubstr("storage 0 is missing"));
  // A view running past its storage; a storage larger than its entry.
  EXPECT_THAT(error_of([&] {
                ckpt::parse_torch_checkpoint(make_zip({{"a/data.pkl", tensor_pickle(3, 1)}, {"a/data/0", floats({1, 2, 3})}}),
                                             "o.pt");
              }),
              HasSubstr("runs past the end of its storage"));
  EXPECT_THAT(error_of([&] {
                ckpt::parse_torch_checkpoint(make_zip({{"a/data.pkl", tensor_pickle(4)}, {"a/data/0", floats({1, 2, 3})}}),
                                             "s.pt");
              }),
              HasSubstr("claims 4 elements"));
  // An unknown class is opaque, but a tensor kind we cannot decode is named.
  auto quantized = pickle;
  quantized.replace(quantized.find("_rebuild_tensor_v2"), 18, "_rebuild_qtensor");
  EXPECT_THAT(error_of([&] {
                ckpt::parse_torch_checkpoint(make_zip({{"a/data.pkl", quantized}, {"a/data/0", floats({1, 2, 3})}}), "q.pt");
              }),
              HasSubstr("_rebuild_qtensor"));
  EXPECT_THAT(error_of([&] { ckpt::parse_torch_checkpoint(make_zip({{"a/other", "x"}}), "n.pt"); }),
              HasSubstr("without a <name>/data.pkl"));
}

TEST(TorchZipReader, HostileNestingIsAnErrorNotAStackOverflow) {
  // ((((...)))) : a million nested lists.
  const int depth = 1'000'000;
  const std::string pickle = "\x80\x02" + std::string(depth, '(') + std::string(depth, 'l') + ".";
  EXPECT_THAT(error_of([&] { ckpt::parse_torch_checkpoint(make_zip({{"a/data.pkl", pickle}}), "deep.pt"); }),
              HasSubstr("nesting deeper than"));
}

TEST(TorchZipReader, FuzzedFilesGiveOnlyErrors) {
  const auto bytes = slurp(fixtures() / "lightning.ckpt");
  std::mt19937 rng(7);
  int parsed = 0, errors = 0;
  for (int round = 0; round < 400; ++round) {
    auto damaged = bytes;
    if (round % 4 == 3) {
      damaged.resize(std::uniform_int_distribution<std::size_t>(0, bytes.size() - 1)(rng));
    } else {
      const int flips = 1 + round % 8;
      for (int f = 0; f < flips; ++f) {
        damaged[std::uniform_int_distribution<std::size_t>(0, bytes.size() - 1)(rng)] =
            static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
      }
    }
    try {
      ckpt::parse_torch_checkpoint(damaged, "fuzz.ckpt");
      ++parsed;
    } catch (const dreamdpo::Error& e) {
      ++errors;
      EXPECT_THAT(std::string(e.what()), HasSubstr("fuzz.ckpt"));
    }
    // Anything else (c10::Error, std::bad_alloc, a crash) fails the test.
  }
  EXPECT_GT(errors, 100);
  EXPECT_EQ(parsed + errors, 400);
}

}  // namespace
