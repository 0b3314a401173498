#include "storage/journal_records.h"

#include <bit>
#include <cstring>
#include <type_traits>

#include "core/fields.h"
#include "storage/storage_error.h"

namespace trm::storage {

namespace {

enum class Kind : uint8_t { header = 1, trials, row, train, eval, event, closed };

class Encoder {
 public:
  explicit Encoder(Kind kind) { out_.push_back(static_cast<char>(kind)); }
  void put(int64_t v) {
    const auto u = static_cast<uint64_t>(v);
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((u >> (8 * i)) & 0xFF));
  }
  void put(double v) { put(static_cast<int64_t>(std::bit_cast<uint64_t>(v))); }
  void put(std::string_view v) {
    put(static_cast<int64_t>(v.size()));
    out_.append(v);
  }
  void put(const std::string& v) { put(std::string_view(v)); }
  void put(TrialStatus v) { put(to_string(v)); }
  template <class Record>
  void put_fields(const Record& r) {
    Record::visit_fields(r, [&](std::string_view, const auto& field) { put(field); });
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Decoder {
 public:
  Decoder(std::string_view in, const std::string& path) : in_(in), path_(path) {}
  void get(int64_t& v) {
    need(8);
    uint64_t u = 0;
    for (int i = 7; i >= 0; --i) u = (u << 8) | static_cast<unsigned char>(in_[at_ + i]);
    at_ += 8;
    v = static_cast<int64_t>(u);
  }
  void get(double& v) {
    int64_t bits = 0;
    get(bits);
    v = std::bit_cast<double>(static_cast<uint64_t>(bits));
  }
  void get(std::string& v) {
    int64_t n = 0;
    get(n);
    if (n < 0) malformed();
    need(static_cast<size_t>(n));
    v.assign(in_.substr(at_, static_cast<size_t>(n)));
    at_ += static_cast<size_t>(n);
  }
  void get(TrialStatus& v) {
    std::string name;
    get(name);
    const auto status = parse_trial_status(name);
    if (!status) malformed();
    v = *status;
  }
  int64_t count() {
    int64_t n = 0;
    get(n);
    if (n < 0 || static_cast<size_t>(n) > in_.size()) malformed();
    return n;
  }
  template <class Record>
  Record get_fields() {
    Record r{};
    Record::visit_fields(r, [&](std::string_view, auto& field) { get(field); });
    return r;
  }
  bool done() const { return at_ == in_.size(); }
  void finish() const {
    if (at_ != in_.size()) malformed();
  }
  [[noreturn]] void malformed() const {
    throw StorageError(path_ +
                       ": a journal record does not decode; the journal was written by "
                       "another trm-sweep version or is damaged");
  }

 private:
  void need(size_t n) const {
    if (in_.size() - at_ < n) malformed();
  }
  std::string_view in_;
  const std::string& path_;
  size_t at_ = 1;  // after the kind byte
};

template <class Record>
std::string column_names() {
  std::string out;
  Record r{};
  Record::visit_fields(r, [&](std::string_view name, const auto&) {
    out += out.empty() ? "" : ",";
    out += name;
  });
  return out;
}

void put_trial(Encoder& e, const TrialDefinition& t) {
  e.put(t.id);
  e.put(t.name);
  const auto pairs = core::key_values(t.config);
  e.put(static_cast<int64_t>(pairs.size()));
  for (const auto& [key, value] : pairs) {
    e.put(key);
    e.put(value);
  }
  e.put(t.predicted_peak_bytes);
  e.put(t.predicted_flops);
  e.put(t.total_steps);
}

TrialDefinition get_trial(Decoder& d, const std::string& path) {
  TrialDefinition t;
  d.get(t.id);
  d.get(t.name);
  const int64_t fields = d.count();
  for (int64_t i = 0; i < fields; ++i) {
    std::string key, value;
    d.get(key);
    d.get(value);
    try {
      core::set_key(t.config, key, value);
    } catch (const ConfigError& e) {
      throw StorageError(path + ": trial " + t.id + ": " + e.what() +
                         " (the journal comes from another trm-sweep version)");
    }
  }
  d.get(t.predicted_peak_bytes);
  d.get(t.predicted_flops);
  d.get(t.total_steps);
  return t;
}

template <class Batch, class Item>
Batch get_batch(Decoder& d) {
  Batch batch;
  d.get(batch.trial);
  const int64_t n = d.count();
  batch.records.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) batch.records.push_back(d.get_fields<Item>());
  return batch;
}

template <class Batch>
void put_batch(Encoder& e, const Batch& batch) {
  e.put(batch.trial);
  e.put(static_cast<int64_t>(batch.records.size()));
  for (const auto& r : batch.records) e.put_fields(r);
}

struct EncodeVisitor {
  std::string operator()(const HeaderRecord& r) const {
    Encoder e(Kind::header);
    e.put(r.journal_version);
    e.put(r.layout);
    e.put_fields(r.header);
    return e.take();
  }
  std::string operator()(const TrialsRecord& r) const {
    Encoder e(Kind::trials);
    e.put(r.first_index);
    e.put(static_cast<int64_t>(r.trials.size()));
    for (const auto& t : r.trials) put_trial(e, t);
    return e.take();
  }
  std::string operator()(const TrialRow& r) const {
    Encoder e(Kind::row);
    e.put_fields(r);
    return e.take();
  }
  std::string operator()(const TrainBatch& r) const {
    Encoder e(Kind::train);
    put_batch(e, r);
    return e.take();
  }
  std::string operator()(const EvalBatch& r) const {
    Encoder e(Kind::eval);
    put_batch(e, r);
    return e.take();
  }
  std::string operator()(const Event& r) const {
    Encoder e(Kind::event);
    e.put_fields(r);
    return e.take();
  }
  std::string operator()(const ClosedRecord& r) const {
    Encoder e(Kind::closed);
    e.put(r.results.size);
    e.put(r.results.mtime_ns);
    e.put(r.results.inode);
    return e.take();
  }
};

JournalRecord decode_body(Kind kind, Decoder& d, const std::string& path) {
  switch (kind) {
    case Kind::header: {
      HeaderRecord r;
      d.get(r.journal_version);
      d.get(r.layout);
      SweepHeader::visit_fields(r.header, [&](std::string_view key, std::string& field) {
        // A journal written before the header had sweep_name ends before it.
        if (key == "sweep_name" && d.done()) return;
        d.get(field);
      });
      return r;
    }
    case Kind::trials: {
      TrialsRecord r;
      d.get(r.first_index);
      const int64_t n = d.count();
      for (int64_t i = 0; i < n; ++i) r.trials.push_back(get_trial(d, path));
      return r;
    }
    case Kind::row:
      return d.get_fields<TrialRow>();
    case Kind::train:
      return get_batch<TrainBatch, core::TrainRecord>(d);
    case Kind::eval:
      return get_batch<EvalBatch, core::EvalRecord>(d);
    case Kind::event:
      return d.get_fields<Event>();
    case Kind::closed: {
      ClosedRecord r;
      d.get(r.results.size);
      d.get(r.results.mtime_ns);
      d.get(r.results.inode);
      return r;
    }
  }
  d.malformed();
}

}  // namespace

std::string layout_signature() {
  return "trials:" + column_names<TrialRow>() + ";train:" + column_names<core::TrainRecord>() +
         ";eval:" + column_names<core::EvalRecord>() + ";events:" + column_names<Event>();
}

std::string encode(const JournalRecord& record) { return std::visit(EncodeVisitor{}, record); }

std::optional<ClosedRecord> as_closed(std::string_view payload, const std::string& path) {
  if (payload.empty() ||
      static_cast<Kind>(static_cast<unsigned char>(payload[0])) != Kind::closed) {
    return std::nullopt;
  }
  return std::get<ClosedRecord>(decode(payload, path));
}

JournalRecord decode(std::string_view payload, const std::string& path) {
  Decoder d(payload, path);
  if (payload.empty()) d.malformed();
  const auto kind = static_cast<Kind>(static_cast<unsigned char>(payload[0]));
  if (kind < Kind::header || kind > Kind::closed) d.malformed();
  JournalRecord record = decode_body(kind, d, path);
  d.finish();
  return record;
}

}  // namespace trm::storage
