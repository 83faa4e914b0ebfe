#include "models/checkpoint/torch_zip_reader.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.h"

namespace dreamdpo::models::checkpoint {
namespace {

// ---------------------------------------------------------------------------------------------
// Bytes: the whole file in memory, or read on demand from disk (checkpoints are several GB).

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual std::uint64_t size() const = 0;
  // Reads exactly `count` bytes at `offset`; the caller has checked the range.
  virtual void read(std::uint64_t offset, std::uint64_t count, void* destination) = 0;
};

class MemorySource : public ByteSource {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  std::uint64_t size() const override { return bytes_.size(); }
  void read(std::uint64_t offset, std::uint64_t count, void* destination) override {
    std::memcpy(destination, bytes_.data() + offset, count);
  }

 private:
  std::string_view bytes_;
};

class FileSource : public ByteSource {
 public:
  explicit FileSource(const std::filesystem::path& path) : in_(path, std::ios::binary), origin_(path.string()) {
    check(in_.good(), "cannot open ", origin_);
    in_.seekg(0, std::ios::end);
    size_ = static_cast<std::uint64_t>(in_.tellg());
  }
  std::uint64_t size() const override { return size_; }
  void read(std::uint64_t offset, std::uint64_t count, void* destination) override {
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(static_cast<char*>(destination), static_cast<std::streamsize>(count));
    check(in_.good(), origin_, ": read error at byte ", offset);
  }

 private:
  std::ifstream in_;
  std::string origin_;
  std::uint64_t size_ = 0;
};

std::uint64_t le(const unsigned char* p, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// ---------------------------------------------------------------------------------------------
// Zip: central directory (with ZIP64), stored entries only.

struct ZipEntry {
  std::uint64_t data_offset = 0, size = 0;
};

class ZipArchive {
 public:
  ZipArchive(ByteSource& source, std::string origin) : source_(source), origin_(std::move(origin)) { read_directory(); }

  const std::map<std::string, ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const {
    const auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
  }
  std::string read_entry(const std::string& name, std::uint64_t limit) {
    const auto* entry = find(name);
    check(entry != nullptr, origin_, ": the archive has no entry ", name);
    check(entry->size <= limit, origin_, ": entry ", name, " is implausibly large (", entry->size, " bytes)");
    std::string bytes(entry->size, '\0');
    if (entry->size) source_.read(entry->data_offset, entry->size, bytes.data());
    return bytes;
  }
  ByteSource& source() { return source_; }

 private:
  std::vector<unsigned char> read_at(std::uint64_t offset, std::uint64_t count, const char* what) {
    check(offset <= source_.size() && count <= source_.size() - offset, origin_, ": truncated zip archive (", what,
          " at byte ", offset, " runs past the end of the file)");
    std::vector<unsigned char> bytes(count);
    if (count) source_.read(offset, count, bytes.data());
    return bytes;
  }

  void read_directory() {
    const std::uint64_t file_size = source_.size();
    check(file_size >= 22, origin_, ": too short to be a zip archive (", file_size, " bytes)");
    // The end-of-central-directory record is in the last 22 + 65535 bytes (its comment is <= 64 KiB).
    const std::uint64_t tail_size = std::min<std::uint64_t>(file_size, 22 + 65535);
    const auto tail = read_at(file_size - tail_size, tail_size, "end record");
    std::optional<std::uint64_t> eocd;
    for (std::uint64_t i = tail_size - 22 + 1; i-- > 0;) {
      if (le(&tail[i], 4) == 0x06054b50) {
        eocd = i;
        break;
      }
    }
    check(eocd.has_value(), origin_, ": not a zip archive or truncated (no end-of-central-directory record)");
    const unsigned char* e = &tail[*eocd];
    std::uint64_t count = le(e + 10, 2), directory_size = le(e + 12, 4), directory_offset = le(e + 16, 4);
    const std::uint64_t eocd_offset = file_size - tail_size + *eocd;
    if (count == 0xFFFF || directory_size == 0xFFFFFFFF || directory_offset == 0xFFFFFFFF) {
      check(eocd_offset >= 20, origin_, ": ZIP64 archive without its locator");
      const auto locator = read_at(eocd_offset - 20, 20, "ZIP64 locator");
      check(le(locator.data(), 4) == 0x07064b50, origin_, ": ZIP64 archive without its locator");
      const auto record = read_at(le(&locator[8], 8), 56, "ZIP64 end record");
      check(le(record.data(), 4) == 0x06064b50, origin_, ": bad ZIP64 end-of-central-directory record");
      count = le(&record[32], 8);
      directory_size = le(&record[40], 8);
      directory_offset = le(&record[48], 8);
    }
    check(count <= directory_size / 46 + 1, origin_, ": corrupt zip directory (", count, " entries in ",
          directory_size, " bytes)");
    const auto directory = read_at(directory_offset, directory_size, "central directory");
    std::uint64_t at = 0;
    for (std::uint64_t n = 0; n < count; ++n) {
      check(at + 46 <= directory.size() && le(&directory[at], 4) == 0x02014b50, origin_,
            ": corrupt zip central directory (entry ", n, ")");
      const unsigned char* d = &directory[at];
      const std::uint64_t flags = le(d + 8, 2), method = le(d + 10, 2), name_length = le(d + 28, 2),
                          extra_length = le(d + 30, 2), comment_length = le(d + 32, 2);
      std::uint64_t compressed = le(d + 20, 4), size = le(d + 24, 4), local_offset = le(d + 42, 4);
      check(at + 46 + name_length + extra_length + comment_length <= directory.size(), origin_,
            ": corrupt zip central directory (entry ", n, ")");
      const std::string name(reinterpret_cast<const char*>(d + 46), name_length);
      // ZIP64 extended information: the 64-bit values of the fields that hold 0xFFFFFFFF, in order.
      for (std::uint64_t x = 0; x + 4 <= extra_length;) {
        const unsigned char* field = d + 46 + name_length + x;
        const std::uint64_t id = le(field, 2), length = le(field + 2, 2);
        check(x + 4 + length <= extra_length, origin_, ": corrupt extra field of zip entry ", name);
        if (id == 0x0001) {
          std::uint64_t used = 0;
          auto take = [&](std::uint64_t& value) {
            if (value != 0xFFFFFFFF) return;
            check(used + 8 <= length, origin_, ": corrupt ZIP64 field of zip entry ", name);
            value = le(field + 4 + used, 8);
            used += 8;
          };
          take(size);
          take(compressed);
          take(local_offset);
        }
        x += 4 + length;
      }
      check((flags & 1) == 0, origin_, ": zip entry ", name, " is encrypted");
      check(method == 0, origin_, ": zip entry ", name, " is compressed (method ", method,
            "); PyTorch checkpoints are stored uncompressed: re-save the file with torch.save");
      check(compressed == size, origin_, ": zip entry ", name, " has inconsistent sizes");
      const auto local = read_at(local_offset, 30, "local header");
      check(le(local.data(), 4) == 0x04034b50, origin_, ": bad local header of zip entry ", name);
      const std::uint64_t data_offset = local_offset + 30 + le(&local[26], 2) + le(&local[28], 2);
      check(data_offset <= file_size && size <= file_size - data_offset, origin_, ": zip entry ", name,
            " runs past the end of the file (truncated?)");
      entries_[name] = ZipEntry{data_offset, size};
      at += 46 + name_length + extra_length + comment_length;
    }
  }

  ByteSource& source_;
  std::string origin_;
  std::map<std::string, ZipEntry> entries_;
};

// ---------------------------------------------------------------------------------------------
// Pickle values.

struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Value {
  enum class Kind { kNone, kBool, kInt, kBigInt, kFloat, kString, kBytes, kTuple, kList, kDict, kGlobal, kObject, kTensor, kStorage };
  Kind kind = Kind::kNone;
  std::int64_t integer = 0;  // kBool, kInt
  double real = 0;
  std::string text;                                  // kString, kBytes; kGlobal: "module.name"
  std::vector<ValuePtr> items;                       // kTuple, kList; kObject: [class, args, state]
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;  // kDict
  at::Tensor tensor;                                 // kTensor; kStorage: 1-D tensor of the storage's dtype

  Value() = default;
  explicit Value(Kind k) : kind(k) {}
  Value(const Value&) = delete;
  Value& operator=(const Value&) = delete;
  // Iterative teardown: a hostile pickle can nest containers millions deep, and the default
  // recursive destruction would overflow the stack.
  ~Value() {
    std::vector<ValuePtr> pending;
    auto collect = [&pending](Value& v) {
      for (auto& item : v.items) pending.push_back(std::move(item));
      for (auto& [k, val] : v.entries) {
        pending.push_back(std::move(k));
        pending.push_back(std::move(val));
      }
      v.items.clear();
      v.entries.clear();
    };
    collect(*this);
    while (!pending.empty()) {
      ValuePtr v = std::move(pending.back());
      pending.pop_back();
      if (v && v.use_count() == 1) collect(*v);
    }
  }
};

ValuePtr make(Value::Kind kind) { return std::make_shared<Value>(kind); }
ValuePtr make_int(std::int64_t v) {
  auto p = make(Value::Kind::kInt);
  p->integer = v;
  return p;
}
ValuePtr make_text(Value::Kind kind, std::string s) {
  auto p = make(kind);
  p->text = std::move(s);
  return p;
}

struct StorageType {
  const char* name;
  at::ScalarType dtype;
};
constexpr StorageType kStorageTypes[] = {
    {"torch.FloatStorage", at::kFloat},  {"torch.HalfStorage", at::kHalf},   {"torch.BFloat16Storage", at::kBFloat16},
    {"torch.DoubleStorage", at::kDouble}, {"torch.LongStorage", at::kLong},   {"torch.IntStorage", at::kInt},
    {"torch.ShortStorage", at::kShort},   {"torch.CharStorage", at::kChar},   {"torch.ByteStorage", at::kByte},
    {"torch.BoolStorage", at::kBool},     {"torch.UntypedStorage", at::kByte}};

// ---------------------------------------------------------------------------------------------
// The pickle machine.

class Unpickler {
 public:
  Unpickler(std::string_view bytes, ZipArchive& archive, std::string prefix, std::string origin)
      : bytes_(bytes), archive_(archive), prefix_(std::move(prefix)), origin_(std::move(origin)) {}

  ValuePtr run() {
    while (true) {
      const std::size_t op_position = pos_;
      const unsigned char op = byte();
      switch (op) {
        case 0x80: byte(); break;                    // PROTO
        case 0x95: bytes(8); break;                  // FRAME (protocol 4): framing only
        case '(': marks_.push_back(stack_.size()); break;  // MARK
        case '}': push(make(Value::Kind::kDict)); break;   // EMPTY_DICT
        case ']': push(make(Value::Kind::kList)); break;   // EMPTY_LIST
        case ')': push(make(Value::Kind::kTuple)); break;  // EMPTY_TUPLE
        case 0x8f: push(make(Value::Kind::kList)); break;  // EMPTY_SET (kept as a list)
        case 'N': push(make(Value::Kind::kNone)); break;
        case 0x88:
        case 0x89: {  // NEWTRUE, NEWFALSE
          auto v = make(Value::Kind::kBool);
          v->integer = op == 0x88;
          push(v);
          break;
        }
        case 'J': push(make_int(static_cast<std::int32_t>(le(bytes(4), 4)))); break;  // BININT
        case 'K': push(make_int(byte())); break;                                       // BININT1
        case 'M': push(make_int(static_cast<std::int64_t>(le(bytes(2), 2)))); break;   // BININT2
        case 0x8a: push(long_integer(byte())); break;                                  // LONG1
        case 0x8b: push(long_integer(le(bytes(4), 4))); break;                         // LONG4
        case 'G': {  // BINFLOAT: big-endian double
          const unsigned char* p = bytes(8);
          std::uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
          auto v = make(Value::Kind::kFloat);
          std::memcpy(&v->real, &bits, 8);
          push(v);
          break;
        }
        case 'X': push(string(Value::Kind::kString, le(bytes(4), 4))); break;   // BINUNICODE
        case 0x8c: push(string(Value::Kind::kString, byte())); break;           // SHORT_BINUNICODE
        case 0x8d: push(string(Value::Kind::kString, le(bytes(8), 8))); break;  // BINUNICODE8
        case 'T': push(string(Value::Kind::kBytes, le(bytes(4), 4))); break;    // BINSTRING
        case 'U': push(string(Value::Kind::kBytes, byte())); break;             // SHORT_BINSTRING
        case 'B': push(string(Value::Kind::kBytes, le(bytes(4), 4))); break;    // BINBYTES
        case 'C': push(string(Value::Kind::kBytes, byte())); break;             // SHORT_BINBYTES
        case 0x8e:                                                              // BINBYTES8
        case 0x96: push(string(Value::Kind::kBytes, le(bytes(8), 8))); break;   // BYTEARRAY8
        case 't': {  // TUPLE
          auto v = make(Value::Kind::kTuple);
          v->items = pop_to_mark();
          push(v);
          break;
        }
        case 0x85:
        case 0x86:
        case 0x87: {  // TUPLE1..3
          const std::size_t n = op - 0x84;
          need(n);
          auto v = make(Value::Kind::kTuple);
          v->items.assign(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
          stack_.resize(stack_.size() - n);
          push(v);
          break;
        }
        case 'l': {  // LIST
          auto v = make(Value::Kind::kList);
          v->items = pop_to_mark();
          push(v);
          break;
        }
        case 'd': {  // DICT
          auto v = make(Value::Kind::kDict);
          set_items(*v, pop_to_mark());
          push(v);
          break;
        }
        case 'a': {  // APPEND
          auto item = pop();
          append(top(), {item});
          break;
        }
        case 'e': {  // APPENDS
          auto items = pop_to_mark();
          append(top(), items);
          break;
        }
        case 0x90: {  // ADDITEMS
          auto items = pop_to_mark();
          append(top(), items);
          break;
        }
        case 0x91: {  // FROZENSET
          auto v = make(Value::Kind::kList);
          v->items = pop_to_mark();
          push(v);
          break;
        }
        case 's': {  // SETITEM
          auto value = pop();
          auto key = pop();
          set_items(dict_on_top(), {key, value});
          break;
        }
        case 'u': {  // SETITEMS
          auto items = pop_to_mark();
          set_items(dict_on_top(), items);
          break;
        }
        case 'q': memo_[byte()] = top(); break;                 // BINPUT
        case 'r': memo_[le(bytes(4), 4)] = top(); break;        // LONG_BINPUT
        case 0x94: memo_[memo_.size()] = top(); break;          // MEMOIZE
        case 'h': push(memo(byte())); break;                    // BINGET
        case 'j': push(memo(le(bytes(4), 4))); break;           // LONG_BINGET
        case '0': pop(); break;                                 // POP
        case '1': pop_to_mark(); break;                         // POP_MARK
        case '2': push(top()); break;                           // DUP
        case 'c': {                                             // GLOBAL
          std::string module = line(), name = line();
          push(make_text(Value::Kind::kGlobal, module + "." + name));
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          auto name = pop(), module = pop();
          check(name->kind == Value::Kind::kString && module->kind == Value::Kind::kString, origin_,
                ": corrupt pickle (STACK_GLOBAL without names) at byte ", op_position);
          push(make_text(Value::Kind::kGlobal, module->text + "." + name->text));
          break;
        }
        case 'R': {  // REDUCE
          auto args = pop();
          auto callable = pop();
          push(call(callable, args));
          break;
        }
        case 0x81: {  // NEWOBJ
          auto args = pop();
          auto cls = pop();
          push(call(cls, args));
          break;
        }
        case 0x92: {  // NEWOBJ_EX
          pop();  // kwargs
          auto args = pop();
          auto cls = pop();
          push(call(cls, args));
          break;
        }
        case 'b': {  // BUILD: state for an object; dicts (OrderedDict's _metadata) and tensors ignore it
          auto state = pop();
          auto& target = top();
          if (target->kind == Value::Kind::kObject) target->items.push_back(state);
          break;
        }
        case 'Q': push(persistent_load(pop())); break;  // BINPERSID
        case '.':                                       // STOP
          check(stack_.size() == 1, origin_, ": corrupt pickle (", stack_.size(), " values left at STOP)");
          return stack_.back();
        default:
          fail(origin_, ": unsupported pickle opcode 0x", std::hex, static_cast<int>(op), std::dec, " at byte ",
               op_position, " of data.pkl (not a torch.save checkpoint, or damaged)");
      }
    }
  }

 private:
  unsigned char byte() { return *bytes(1); }
  const unsigned char* bytes(std::uint64_t n) {
    check(n <= bytes_.size() - pos_, origin_, ": truncated pickle in data.pkl (at byte ", pos_, ")");
    const auto* p = reinterpret_cast<const unsigned char*>(bytes_.data() + pos_);
    pos_ += n;
    return p;
  }
  std::string line() {
    const auto end = bytes_.find('\n', pos_);
    check(end != std::string_view::npos, origin_, ": truncated pickle in data.pkl (at byte ", pos_, ")");
    std::string s(bytes_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return s;
  }
  ValuePtr string(Value::Kind kind, std::uint64_t n) {
    const char* p = reinterpret_cast<const char*>(bytes(n));
    return make_text(kind, std::string(p, n));
  }
  ValuePtr long_integer(std::uint64_t n) {
    const unsigned char* p = bytes(n);
    if (n > 8) return make(Value::Kind::kBigInt);  // only ever seen in metadata; unusable as a size
    std::uint64_t v = n ? le(p, static_cast<int>(n)) : 0;
    if (n && n < 8 && (p[n - 1] & 0x80)) v |= ~std::uint64_t{0} << (8 * n);  // sign-extend
    return make_int(static_cast<std::int64_t>(v));
  }

  void push(ValuePtr v) { stack_.push_back(std::move(v)); }
  void need(std::size_t n) {
    const std::size_t floor = marks_.empty() ? 0 : marks_.back();
    check(stack_.size() >= floor + n, origin_, ": corrupt pickle (stack underflow at byte ", pos_, ")");
  }
  ValuePtr pop() {
    need(1);
    auto v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  ValuePtr& top() {
    need(1);
    return stack_.back();
  }
  std::vector<ValuePtr> pop_to_mark() {
    check(!marks_.empty(), origin_, ": corrupt pickle (no MARK at byte ", pos_, ")");
    const std::size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark), stack_.end());
    stack_.resize(mark);
    return items;
  }
  ValuePtr memo(std::uint64_t index) {
    const auto it = memo_.find(index);
    check(it != memo_.end(), origin_, ": corrupt pickle (memo ", index, " unset at byte ", pos_, ")");
    return it->second;
  }
  void append(const ValuePtr& target, const std::vector<ValuePtr>& items) {
    if (target->kind == Value::Kind::kList) {
      target->items.insert(target->items.end(), items.begin(), items.end());
    }  // appending to an opaque object (a custom list subclass): dropped
  }
  Value& dict_on_top() {
    auto& v = top();
    check(v->kind == Value::Kind::kDict || v->kind == Value::Kind::kObject, origin_,
          ": corrupt pickle (SETITEM on a non-dict at byte ", pos_, ")");
    return *v;
  }
  void set_items(Value& dict, const std::vector<ValuePtr>& items) {
    check(items.size() % 2 == 0, origin_, ": corrupt pickle (odd SETITEMS at byte ", pos_, ")");
    if (dict.kind != Value::Kind::kDict) return;  // items of an opaque mapping: dropped
    for (std::size_t i = 0; i < items.size(); i += 2) dict.entries.emplace_back(items[i], items[i + 1]);
  }

  std::int64_t as_int(const ValuePtr& v, const char* what) {
    check(v->kind == Value::Kind::kInt, origin_, ": corrupt tensor record (", what, " is not an integer)");
    return v->integer;
  }
  std::vector<std::int64_t> as_ints(const ValuePtr& v, const char* what) {
    check(v->kind == Value::Kind::kTuple || v->kind == Value::Kind::kList, origin_, ": corrupt tensor record (",
          what, " is not a tuple)");
    check(v->items.size() <= 64, origin_, ": corrupt tensor record (", v->items.size(), " dimensions)");
    std::vector<std::int64_t> out;
    for (const auto& item : v->items) out.push_back(as_int(item, what));
    return out;
  }

  ValuePtr call(const ValuePtr& callable, const ValuePtr& args) {
    if (callable->kind != Value::Kind::kGlobal) return opaque(callable, args);
    const std::string& name = callable->text;
    const auto& a = args->items;
    const bool tuple = args->kind == Value::Kind::kTuple;
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
      check(tuple && a.size() >= 4, origin_, ": corrupt tensor record (", name, " with ", a.size(), " arguments)");
      return rebuild_tensor(a[0], as_int(a[1], "storage offset"), as_ints(a[2], "size"), as_ints(a[3], "stride"));
    }
    if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
      check(tuple && !a.empty() && a[0]->kind == Value::Kind::kTensor, origin_, ": corrupt parameter record");
      return a[0];
    }
    if (name == "torch._tensor._rebuild_from_type_v2" || name == "torch._tensor._rebuild_from_type") {
      // (function, tensor subclass, arguments, state): the plain tensor is what we keep.
      check(tuple && a.size() >= 3 && a[2]->kind == Value::Kind::kTuple, origin_, ": corrupt tensor-subclass record");
      return call(a[0], a[2]);
    }
    if (name.rfind("torch._utils._rebuild_", 0) == 0) {
      fail(origin_, ": holds a kind of tensor this reader does not support (", name,
           "; sparse, quantized and device-specific tensors are not read): convert it to dense tensors in Python");
    }
    if (name == "collections.OrderedDict" || name == "builtins.dict") {
      auto dict = make(Value::Kind::kDict);
      // OrderedDict is pickled as REDUCE(cls, ()) + SETITEMS; a list of pairs may also come as argument.
      if (tuple && a.size() == 1 && (a[0]->kind == Value::Kind::kList || a[0]->kind == Value::Kind::kTuple)) {
        for (const auto& pair : a[0]->items) {
          if ((pair->kind == Value::Kind::kTuple || pair->kind == Value::Kind::kList) && pair->items.size() == 2) {
            dict->entries.emplace_back(pair->items[0], pair->items[1]);
          }
        }
      }
      return dict;
    }
    return opaque(callable, args);
  }
  static ValuePtr opaque(const ValuePtr& callable, const ValuePtr& args) {
    auto v = make(Value::Kind::kObject);
    v->items = {callable, args};
    return v;
  }

  ValuePtr persistent_load(const ValuePtr& id) {
    // ("storage", storage type, key, location, number of elements)
    check(id->kind == Value::Kind::kTuple && id->items.size() >= 5 && id->items[0]->kind == Value::Kind::kString &&
              id->items[0]->text == "storage",
          origin_, ": corrupt persistent id in data.pkl (not a storage record)");
    const auto& type = id->items[1];
    const auto& key = id->items[2];
    check(type->kind == Value::Kind::kGlobal, origin_, ": corrupt storage record (no storage type)");
    check(key->kind == Value::Kind::kString, origin_, ": corrupt storage record (key is not a string)");
    const std::int64_t numel = as_int(id->items[4], "storage size");
    std::optional<at::ScalarType> dtype;
    for (const auto& known : kStorageTypes) {
      if (type->text == known.name) dtype = known.dtype;
    }
    check(dtype.has_value(), origin_, ": storage type ", type->text,
          " is not supported (float32/16, bfloat16, float64, int64/32/16/8, uint8, bool are)");
    const auto cached = storages_.find(key->text);
    if (cached != storages_.end()) return cached->second;
    const std::string entry_name = prefix_ + "/data/" + key->text;
    const auto* entry = archive_.find(entry_name);
    check(entry != nullptr, origin_, ": storage ", key->text, " is missing from the archive (", entry_name, ")");
    const std::uint64_t element = at::elementSize(*dtype);
    check(numel >= 0 && static_cast<std::uint64_t>(numel) <= entry->size / element, origin_, ": storage ",
          key->text, " claims ", numel, " elements but its entry holds ", entry->size, " bytes");
    auto storage = at::empty({numel}, at::TensorOptions().dtype(*dtype));
    if (numel > 0) archive_.source().read(entry->data_offset, static_cast<std::uint64_t>(numel) * element, storage.data_ptr());
    auto v = make(Value::Kind::kStorage);
    v->tensor = storage;
    storages_[key->text] = v;
    return v;
  }

  ValuePtr rebuild_tensor(const ValuePtr& storage, std::int64_t offset, const std::vector<std::int64_t>& size,
                          const std::vector<std::int64_t>& stride) {
    check(storage->kind == Value::Kind::kStorage, origin_, ": corrupt tensor record (no storage)");
    check(size.size() == stride.size(), origin_, ": corrupt tensor record (", size.size(), " sizes, ",
          stride.size(), " strides)");
    const std::int64_t numel = storage->tensor.numel();
    check(offset >= 0 && offset <= numel, origin_, ": tensor offset ", offset, " outside its storage of ", numel,
          " elements");
    // The last element reached must lie inside the storage (empty tensors reach none).
    bool empty = false;
    unsigned __int128 last = static_cast<unsigned __int128>(offset);
    for (std::size_t i = 0; i < size.size(); ++i) {
      check(size[i] >= 0 && stride[i] >= 0, origin_, ": corrupt tensor record (negative size or stride)");
      if (size[i] == 0) empty = true;
      last += static_cast<unsigned __int128>(size[i] > 0 ? size[i] - 1 : 0) * static_cast<std::uint64_t>(stride[i]);
    }
    check(empty || last < static_cast<unsigned __int128>(numel), origin_,
          ": tensor runs past the end of its storage (size, stride and offset do not fit ", numel, " elements)");
    auto v = make(Value::Kind::kTensor);
    v->tensor = empty ? at::empty(size, storage->tensor.options()) : storage->tensor.as_strided(size, stride, offset);
    return v;
  }

  std::string_view bytes_;
  std::size_t pos_ = 0;
  ZipArchive& archive_;
  std::string prefix_, origin_;
  std::vector<ValuePtr> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, ValuePtr> memo_;
  std::map<std::string, ValuePtr> storages_;
};

// ---------------------------------------------------------------------------------------------

class Flattener {
 public:
  explicit Flattener(std::string origin) : origin_(std::move(origin)) {}
  void add(const std::string& name, const Value& value, int depth) {
    check(depth <= 100, origin_, ": nesting deeper than 100 levels (corrupt or hostile file)");
    check(++visits_ <= 10'000'000, origin_, ": too many values (corrupt or hostile file)");
    auto child = [&](const std::string& key) { return name.empty() ? key : name + "." + key; };
    switch (value.kind) {
      case Value::Kind::kTensor:
        check(tensors_.emplace(name, value.tensor).second, origin_, ": two tensors named ", name);
        break;
      case Value::Kind::kDict:
        for (const auto& [key, item] : value.entries) {
          if (key->kind == Value::Kind::kString) {
            add(child(key->text), *item, depth + 1);
          } else if (key->kind == Value::Kind::kInt) {
            add(child(std::to_string(key->integer)), *item, depth + 1);
          }  // other keys (tuples, objects): not tensor names
        }
        break;
      case Value::Kind::kList:
      case Value::Kind::kTuple:
        for (std::size_t i = 0; i < value.items.size(); ++i) add(child(std::to_string(i)), *value.items[i], depth + 1);
        break;
      default:
        break;  // numbers, strings, opaque objects
    }
  }
  TensorMap take() { return std::move(tensors_); }

 private:
  std::string origin_;
  std::uint64_t visits_ = 0;
  TensorMap tensors_;
};

TensorMap read_archive(ByteSource& source, const std::string& origin) {
  {
    unsigned char head[4] = {0, 0, 0, 0};
    if (source.size() >= 4) source.read(0, 4, head);
    check(!(head[0] == 0x80 && head[1] <= 5 && head[2] == 0x8a), origin,
          ": is a legacy PyTorch checkpoint (saved before PyTorch 1.6, not a zip archive); load it in Python and "
          "save it again with torch.save, or convert it to safetensors");
    check(le(head, 4) == 0x04034b50, origin, ": is not a PyTorch zip checkpoint (it does not start like a zip archive)");
  }
  ZipArchive archive(source, origin);
  std::string prefix;
  for (const auto& [name, entry] : archive.entries()) {
    const auto slash = name.find('/');
    if (slash != std::string::npos && name.substr(slash) == "/data.pkl") {
      prefix = name.substr(0, slash);
      break;
    }
  }
  check(!prefix.empty(), origin, ": zip archive without a <name>/data.pkl entry: not a torch.save checkpoint");
  if (const auto* order = archive.find(prefix + "/byteorder")) {
    const std::string value = archive.read_entry(prefix + "/byteorder", 16);
    check(value == "little", origin, ": stored in byte order '", value, "'; only little-endian files are read");
    (void)order;
  }
  const std::string pickle = archive.read_entry(prefix + "/data.pkl", std::uint64_t{1} << 31);
  Unpickler unpickler(pickle, archive, prefix, origin);
  const ValuePtr root = unpickler.run();
  Flattener flattener(origin);
  flattener.add("", *root, 0);
  return flattener.take();
}

}  // namespace

TensorMap read_torch_checkpoint(const std::filesystem::path& path) {
  check(std::filesystem::is_regular_file(path), "checkpoint ", path.string(), " does not exist or is not a file");
  FileSource source(path);
  return read_archive(source, path.string());
}

TensorMap parse_torch_checkpoint(std::string_view bytes, const std::string& origin) {
  MemorySource source(bytes);
  return read_archive(source, origin);
}

bool looks_like_zip(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char head[4] = {0, 0, 0, 0};
  in.read(reinterpret_cast<char*>(head), 4);
  return in.gcount() == 4 && le(head, 4) == 0x04034b50;
}

}  // namespace dreamdpo::models::checkpoint
