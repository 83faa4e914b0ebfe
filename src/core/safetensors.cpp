#include "core/safetensors.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <sstream>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"

namespace dreamdpo::core {
namespace {

using nlohmann::json;

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; a big-endian host would need byte swapping");

constexpr const char* kMetadataKey = "__metadata__";
// Deeper nesting than this is never a safetensors header; rejecting it early keeps the JSON
// parser's memory bounded on hostile input.
constexpr int kMaxJsonDepth = 64;
// PyTorch cannot hold more dimensions than this in practice.
constexpr std::size_t kMaxDims = 64;

struct DtypeInfo {
  const char* name;
  at::ScalarType type;
  std::int64_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", at::kDouble, 8}, {"F32", at::kFloat, 4},  {"F16", at::kHalf, 2},
    {"BF16", at::kBFloat16, 2}, {"I64", at::kLong, 8},  {"I32", at::kInt, 4},
    {"I16", at::kShort, 2},  {"I8", at::kChar, 1},    {"U8", at::kByte, 1},
    {"BOOL", at::kBool, 1},
};

const DtypeInfo* find_dtype(const std::string& name) {
  for (const DtypeInfo& info : kDtypes) {
    if (name == info.name) return &info;
  }
  return nullptr;
}

const DtypeInfo* find_dtype(at::ScalarType type) {
  for (const DtypeInfo& info : kDtypes) {
    if (type == info.type) return &info;
  }
  return nullptr;
}

std::string shape_string(const std::vector<std::int64_t>& shape) {
  std::ostringstream out;
  out << '[';
  for (std::size_t i = 0; i < shape.size(); ++i) out << (i ? "," : "") << shape[i];
  out << ']';
  return out.str();
}

std::string offsets_string(std::int64_t begin, std::int64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

// A short, printable excerpt of a JSON value for error messages.
std::string excerpt(const json& value) {
  std::string text = value.dump(-1, ' ', true, json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

// Returns the value as a non-negative int64, or nullopt when it is not an integer in
// [0, INT64_MAX] (floats, negative numbers, strings, huge unsigned values).
std::optional<std::int64_t> as_non_negative_int(const json& value) {
  if (value.is_number_unsigned()) {
    const auto v = value.get<std::uint64_t>();
    if (v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(v);
  }
  if (value.is_number_integer()) {
    const auto v = value.get<std::int64_t>();
    if (v < 0) return std::nullopt;
    return v;
  }
  return std::nullopt;
}

// Maximum bracket nesting of a JSON text, ignoring brackets inside strings.
bool json_depth_exceeds(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

struct Entry {
  std::string key;
  const DtypeInfo* dtype;
  std::vector<std::int64_t> shape;
  std::int64_t begin;
  std::int64_t end;
};

Entry parse_entry(const std::string& origin, const std::string& key, const json& value,
                  std::uint64_t data_size) {
  const std::string where = origin + ": tensor '" + key + "'";
  if (!value.is_object()) {
    fail(where, " has header entry ", excerpt(value),
         " but expected an object with dtype, shape and data_offsets (file corrupt?)");
  }
  Entry entry;
  entry.key = key;

  const auto dtype_it = value.find("dtype");
  if (dtype_it == value.end()) fail(where, " has no \"dtype\" in the header (file corrupt?)");
  if (!dtype_it->is_string()) {
    fail(where, " has dtype ", excerpt(*dtype_it), " but expected a string like \"F32\"");
  }
  const auto& dtype_name = dtype_it->get_ref<const std::string&>();
  entry.dtype = find_dtype(dtype_name);
  if (entry.dtype == nullptr) {
    fail(where, " has unsupported dtype '", dtype_name,
         "' (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
  }

  const auto shape_it = value.find("shape");
  if (shape_it == value.end()) fail(where, " has no \"shape\" in the header (file corrupt?)");
  if (!shape_it->is_array()) {
    fail(where, " has shape ", excerpt(*shape_it), " but expected an array of integers");
  }
  if (shape_it->size() > kMaxDims) {
    fail(where, " has ", shape_it->size(), " dimensions; at most ", kMaxDims, " are supported");
  }
  std::int64_t numel = 1;
  bool overflow = false;
  for (const json& dim : *shape_it) {
    const auto size = as_non_negative_int(dim);
    if (!size) {
      fail(where, " has shape ", excerpt(*shape_it), " with entry ", excerpt(dim),
           "; every entry must be a non-negative integer");
    }
    entry.shape.push_back(*size);
    overflow = overflow || __builtin_mul_overflow(numel, *size, &numel);
  }
  std::int64_t nbytes = 0;
  overflow = overflow || __builtin_mul_overflow(numel, entry.dtype->size, &nbytes);
  if (overflow) {
    fail(where, " has shape ", shape_string(entry.shape), " of ", entry.dtype->name,
         " whose size overflows 64 bits (file corrupt?)");
  }

  const auto offsets_it = value.find("data_offsets");
  if (offsets_it == value.end()) {
    fail(where, " has no \"data_offsets\" in the header (file corrupt?)");
  }
  const json& offsets = *offsets_it;
  std::optional<std::int64_t> begin, end;
  if (offsets.is_array() && offsets.size() == 2) {
    begin = as_non_negative_int(offsets[0]);
    end = as_non_negative_int(offsets[1]);
  }
  if (!begin || !end || *begin > *end) {
    fail(where, " has data_offsets ", excerpt(offsets),
         " but expected two non-negative integers [begin, end] with begin <= end");
  }
  entry.begin = *begin;
  entry.end = *end;
  if (static_cast<std::uint64_t>(entry.end) > data_size) {
    fail(where, " has data_offsets ", offsets_string(entry.begin, entry.end),
         " but the data buffer holds only ", data_size, " bytes (file truncated?)");
  }
  if (entry.end - entry.begin != nbytes) {
    fail(where, " has data_offsets ", offsets_string(entry.begin, entry.end), " but shape ",
         shape_string(entry.shape), " of ", entry.dtype->name, " needs ", nbytes,
         " bytes (file corrupt or truncated?)");
  }
  return entry;
}

std::map<std::string, std::string> parse_metadata(const std::string& origin, const json& value) {
  if (!value.is_object()) {
    fail(origin, ": header field \"__metadata__\" is ", excerpt(value),
         " but must be an object of strings");
  }
  std::map<std::string, std::string> metadata;
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      fail(origin, ": metadata '", key, "' has value ", excerpt(item),
           " but metadata values must be strings");
    }
    metadata.emplace(key, item.get<std::string>());
  }
  return metadata;
}

at::Tensor copy_out(const Entry& entry, const char* data) {
  at::Tensor tensor = at::empty(entry.shape, at::TensorOptions().dtype(entry.dtype->type));
  const std::size_t nbytes = static_cast<std::size_t>(entry.end - entry.begin);
  if (nbytes > 0) {
    std::memcpy(tensor.data_ptr(), data + entry.begin, nbytes);
    // Only 0 and 1 are valid bool bytes; anything else is normalised rather than left as
    // undefined behaviour for later arithmetic.
    if (entry.dtype->type == at::kBool) {
      auto* bytes = static_cast<std::uint8_t*>(tensor.data_ptr());
      for (std::size_t i = 0; i < nbytes; ++i) bytes[i] = bytes[i] != 0;
    }
  }
  return tensor;
}

}  // namespace

std::string safetensors_dtype_name(at::ScalarType type) {
  const DtypeInfo* info = find_dtype(type);
  if (info == nullptr) {
    fail("dtype ", c10::toString(type),
         " cannot be stored in safetensors (supported: double, float, half, bfloat16, int64, "
         "int32, int16, int8, uint8, bool)");
  }
  return info->name;
}

SafetensorsFile parse_safetensors(std::string_view bytes, const std::string& origin) {
  if (bytes.size() < 8) {
    fail(origin, ": file is ", bytes.size(),
         " bytes, too short for a safetensors header (file truncated?)");
  }
  std::uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) {
    header_size = (header_size << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  }
  if (header_size > kSafetensorsMaxHeaderBytes) {
    fail(origin, ": header length ", header_size, " bytes exceeds the ",
         kSafetensorsMaxHeaderBytes, "-byte limit (not a safetensors file, or corrupt)");
  }
  if (header_size > bytes.size() - 8) {
    fail(origin, ": header length ", header_size, " bytes but only ", bytes.size() - 8,
         " bytes follow (file truncated, or not a safetensors file)");
  }
  const std::string_view header_text = bytes.substr(8, static_cast<std::size_t>(header_size));
  const std::string_view data = bytes.substr(8 + static_cast<std::size_t>(header_size));

  if (json_depth_exceeds(header_text, kMaxJsonDepth)) {
    fail(origin, ": header JSON is nested deeper than ", kMaxJsonDepth,
         " levels (not a safetensors file, or corrupt)");
  }
  json header;
  try {
    header = json::parse(header_text.begin(), header_text.end());
  } catch (const json::exception& e) {
    fail(origin, ": header is not valid JSON (not a safetensors file, or corrupt): ", e.what());
  }
  if (!header.is_object()) {
    fail(origin, ": header is JSON ", header.type_name(),
         " but must be an object (not a safetensors file, or corrupt)");
  }

  SafetensorsFile file;
  std::vector<Entry> entries;
  entries.reserve(header.size());
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey) {
      file.metadata = parse_metadata(origin, value);
    } else {
      entries.push_back(parse_entry(origin, key, value, data.size()));
    }
  }

  // Non-empty tensors must not share bytes.
  std::vector<const Entry*> by_offset;
  for (const Entry& entry : entries) {
    if (entry.end > entry.begin) by_offset.push_back(&entry);
  }
  std::sort(by_offset.begin(), by_offset.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->key < b->key;
  });
  for (std::size_t i = 1; i < by_offset.size(); ++i) {
    const Entry& previous = *by_offset[i - 1];
    const Entry& current = *by_offset[i];
    if (current.begin < previous.end) {
      fail(origin, ": tensor '", current.key, "' with data_offsets ",
           offsets_string(current.begin, current.end), " overlaps tensor '", previous.key,
           "' with data_offsets ", offsets_string(previous.begin, previous.end),
           " (file corrupt?)");
    }
  }

  for (const Entry& entry : entries) {
    file.tensors.emplace(entry.key, copy_out(entry, data.data()));
  }
  return file;
}

SafetensorsFile read_safetensors(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  return parse_safetensors(bytes, path.string());
}

namespace {

// What a safetensors file holds, ready to be written: the padded JSON header and the tensors as
// contiguous CPU tensors (views of the originals where they already are), in header order.
struct SafetensorsPlan {
  std::string header_text;
  std::vector<at::Tensor> contiguous;
  std::int64_t data_bytes = 0;
};

SafetensorsPlan plan_safetensors(const std::map<std::string, at::Tensor>& tensors,
                                 const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header[kMetadataKey] = metadata;
  SafetensorsPlan plan;
  plan.contiguous.reserve(tensors.size());
  for (const auto& [key, tensor] : tensors) {
    check(key != kMetadataKey, "cannot save a tensor named '", kMetadataKey,
          "': the name is reserved by the safetensors format");
    check(tensor.defined(), "cannot save tensor '", key, "': it is undefined");
    check(tensor.layout() == at::kStrided, "cannot save tensor '", key,
          "': only dense tensors can be stored in safetensors");
    const DtypeInfo* info = find_dtype(tensor.scalar_type());
    if (info == nullptr) {
      fail("cannot save tensor '", key, "': dtype ", c10::toString(tensor.scalar_type()),
           " cannot be stored in safetensors (supported: double, float, half, bfloat16, "
           "int64, int32, int16, int8, uint8, bool)");
    }
    at::Tensor cpu = tensor.detach().to(at::kCPU).contiguous();
    const std::int64_t nbytes = cpu.numel() * info->size;
    header[key] = {{"dtype", info->name},
                   {"shape", cpu.sizes().vec()},
                   {"data_offsets", {plan.data_bytes, plan.data_bytes + nbytes}}};
    plan.data_bytes += nbytes;
    plan.contiguous.push_back(std::move(cpu));
  }
  try {
    plan.header_text = header.dump();
  } catch (const json::exception& e) {
    fail("cannot save safetensors: tensor names and metadata must be valid UTF-8 (", e.what(),
         ")");
  }
  // Pad so that the data buffer (after the 8-byte length) starts 8-byte aligned.
  plan.header_text.append((8 - plan.header_text.size() % 8) % 8, ' ');
  return plan;
}

// The file in order: 8-byte little-endian header length, header, tensor bytes. `write` is
// called with consecutive pieces, so the file can go to memory or straight to disk.
template <class Write>
void emit_safetensors(const SafetensorsPlan& plan, Write&& write) {
  const std::uint64_t header_size = plan.header_text.size();
  char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<char>((header_size >> (8 * i)) & 0xff);
  write(length, sizeof(length));
  write(plan.header_text.data(), plan.header_text.size());
  for (const at::Tensor& tensor : plan.contiguous) {
    const std::size_t nbytes = static_cast<std::size_t>(tensor.numel()) * tensor.element_size();
    if (nbytes > 0) write(static_cast<const char*>(tensor.data_ptr()), nbytes);
  }
}

}  // namespace

std::string serialize_safetensors(const std::map<std::string, at::Tensor>& tensors,
                                  const std::map<std::string, std::string>& metadata) {
  const auto plan = plan_safetensors(tensors, metadata);
  std::string out;
  out.reserve(8 + plan.header_text.size() + static_cast<std::size_t>(plan.data_bytes));
  emit_safetensors(plan, [&](const char* data, std::size_t size) { out.append(data, size); });
  return out;
}

void write_safetensors(const std::filesystem::path& path,
                       const std::map<std::string, at::Tensor>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  // Streamed to the temporary file: a multi-GB checkpoint is never copied into one buffer.
  const auto plan = plan_safetensors(tensors, metadata);
  AtomicFile file(path);
  emit_safetensors(plan, [&](const char* data, std::size_t size) {
    file.stream().write(data, static_cast<std::streamsize>(size));
  });
  file.commit();
}

}  // namespace dreamdpo::core
