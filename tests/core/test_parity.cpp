// Replays every fixture of the fixture folder ($TRM_FIXTURES_DIR or shared/fixtures) against the
// reference tensors; a new fixture of another size needs no code change here.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "core/errors.h"
#include "core/parity.h"
#include "core/reference_checkpoint.h"
#include "core/state_dict.h"

namespace trm::core {
namespace {}  // namespace

// Test names show the fixture's name, not its bytes.
void PrintTo(const Fixture& f, std::ostream* os) { *os << f.name; }

namespace {

class FixtureParity : public testing::TestWithParam<Fixture> {};

TEST_P(FixtureParity, EveryTensorMatchesTheReferenceWithinItsTolerance) {
  const auto report = run_parity(GetParam());
  ASSERT_GT(report.checks.size(), 50u) << "the replay compared too few tensors";
  for (const auto& c : report.checks) {
    EXPECT_TRUE(c.ok) << c.key << ": error " << c.error << " > allowed " << c.allowed << " ("
                      << c.how << ")";
  }
}

std::string fixture_name(const testing::TestParamInfo<Fixture>& info) {
  std::string name = info.param.name;
  for (auto& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Fixtures, FixtureParity,
                         testing::ValuesIn(find_fixtures(default_fixtures_dir())), fixture_name);

// The repository's own reference fixtures (tests/fixtures/reference/README.md): small configs the
// shared ones do not cover (slots that halt and are reset, a 4x4 grid with a computed prefix
// length, T = 3 with n = 1), replayed whatever $TRM_FIXTURES_DIR says.
INSTANTIATE_TEST_SUITE_P(RepositoryFixtures, FixtureParity,
                         testing::ValuesIn(find_fixtures(TRM_REPOSITORY_FIXTURES_DIR)),
                         fixture_name);

TEST(FixtureFolder, TheRepositoryHoldsItsOwnReplayFixtures) {
  EXPECT_GE(find_fixtures(TRM_REPOSITORY_FIXTURES_DIR).size(), 3u) << TRM_REPOSITORY_FIXTURES_DIR;
}

TEST(FixtureFolder, HoldsAtLeastOneReplayFixture) {
  EXPECT_FALSE(find_fixtures(default_fixtures_dir()).empty()) << default_fixtures_dir();
}

// A checkpoint exactly as the reference writes it (<stem>_state_dict.pt) loads by name into the
// model of its fixture's config and gives the fixture's weights.
TEST(ReferenceStateDict, LoadsEveryCheckpointOfTheFixtureFolder) {
  int loaded = 0;
  for (const auto& f : find_fixtures(default_fixtures_dir())) {
    const auto path = std::filesystem::path(f.pt_path).parent_path() / (f.name + "_state_dict.pt");
    if (!std::filesystem::exists(path)) continue;
    TrmModel model(fixture_config(f), at::kFloat);
    load_reference_checkpoint(*model, path.string());
    std::map<std::string, at::Tensor> reference;
    for (auto& e : read_torch_save(f.pt_path)) reference[e.name] = e.value;
    for (const auto& name : persistent_names(*model)) {
      const auto it = reference.find("param/model.inner." + name);
      ASSERT_NE(it, reference.end()) << name;
      at::Tensor ours = model->named_parameters().contains(name) ? model->named_parameters()[name]
                                                                 : model->named_buffers()[name];
      EXPECT_TRUE(at::equal(ours, it->second)) << name;
    }
    ++loaded;
  }
  EXPECT_GT(loaded, 0) << "no <stem>_state_dict.pt beside a fixture in " << default_fixtures_dir();
}

TEST(ReferenceStateDict, ACheckpointOfAnotherConfigIsRejectedWithEveryProblem) {
  const auto fixtures = find_fixtures(default_fixtures_dir());
  ASSERT_FALSE(fixtures.empty());
  const auto& f = fixtures.front();
  const auto path = std::filesystem::path(f.pt_path).parent_path() / (f.name + "_state_dict.pt");
  auto other = fixture_config(f);
  other.mixer = other.mixer == TokenMixer::mlp ? TokenMixer::attention : TokenMixer::mlp;
  other.pos_encodings = PosEncoding::none;
  TrmModel model(other, at::kFloat);
  try {
    load_reference_checkpoint(*model, path.string());
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
    EXPECT_NE(msg.find("no counterpart"), std::string::npos) << msg;
    EXPECT_NE(msg.find("missing 'L_level.layers.0."), std::string::npos) << msg;
  }
}

// An entry of the wrong shape is one problem (not also "missing"); one of an integer type under a
// weight's name is refused rather than cast; another floating type is cast.
TEST(ReferenceStateDict, AWrongShapeOrIntegerEntryIsNamedOnce) {
  const auto fixtures = find_fixtures(default_fixtures_dir());
  ASSERT_FALSE(fixtures.empty());
  const auto& f = fixtures.front();
  const auto path = std::filesystem::path(f.pt_path).parent_path() / (f.name + "_state_dict.pt");
  const std::vector<NamedTensor> entries = read_torch_save(path.string());
  const std::string key = "model.inner.lm_head.weight";
  auto edited = [&](const std::function<at::Tensor(const at::Tensor&)>& change) {
    std::vector<NamedTensor> out = entries;
    bool found = false;
    for (auto& e : out) {
      if (model_relative_name(e.name) != "lm_head.weight") continue;
      e.value = change(e.value);
      found = true;
    }
    EXPECT_TRUE(found) << key;
    return out;
  };
  auto problems_of = [&](const std::vector<NamedTensor>& e) -> std::string {
    TrmModel model(fixture_config(f), at::kFloat);
    try {
      load_reference_state_dict(*model, e, "edited");
    } catch (const DataError& error) {
      return error.what();
    }
    return "";
  };
  const std::string shape =
      problems_of(edited([](const at::Tensor& t) { return t.narrow(1, 0, 3); }));
  EXPECT_NE(shape.find("(1 problem):"), std::string::npos) << shape;
  EXPECT_NE(shape.find("lm_head.weight' has shape"), std::string::npos) << shape;
  EXPECT_EQ(shape.find("missing"), std::string::npos) << shape;
  const std::string integer =
      problems_of(edited([](const at::Tensor& t) { return t.to(at::kLong); }));
  EXPECT_NE(integer.find("lm_head.weight' holds Long values, the model expects floating point"),
            std::string::npos)
      << integer;
  EXPECT_EQ(problems_of(edited([](const at::Tensor& t) { return t.to(at::kDouble); })), "");
}

}  // namespace
}  // namespace trm::core
