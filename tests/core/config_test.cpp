#include "core/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_helpers.h"

namespace dreamdpo::core {
namespace {
using ::testing::HasSubstr;

struct InnerConfig {
  double tau = 0.01;
  std::string pairs = "noise";
  template <class V>
  void visit(V& v) {
    v("tau", tau);
    v("pairs", pairs);
  }
  void validate(const std::string& path) const {
    check(tau >= 0, key_path(path, "tau"), " must be >= 0");
  }
};

struct OuterConfig {
  int64_t steps = 100;
  bool flag = false;
  std::vector<double> range = {0.98, 0.5};
  InnerConfig inner;
  template <class V>
  void visit(V& v) {
    v("steps", steps);
    v("flag", flag);
    v("range", range);
    v("inner", inner);
  }
};

using testing_helpers::error_of;

TEST(Config, MissingKeysKeepDefaults) {
  OuterConfig config;
  read_config(parse_yaml("steps: 7\ninner:\n  pairs: timestep\n", "test"), config);
  EXPECT_EQ(config.steps, 7);
  EXPECT_EQ(config.inner.pairs, "timestep");
  EXPECT_DOUBLE_EQ(config.inner.tau, 0.01);
  EXPECT_FALSE(config.flag);
}

TEST(Config, UnknownKeyNamesTheFullPath) {
  OuterConfig config;
  const auto message = error_of([&] { read_config(parse_yaml("inner:\n  tua: 1\n", "t"), config); });
  EXPECT_THAT(message, HasSubstr("unknown config key 'inner.tua'"));
  EXPECT_THAT(message, HasSubstr("tau, pairs"));
  EXPECT_THAT(error_of([&] { read_config(parse_yaml("stepz: 1\n", "t"), config); }),
              HasSubstr("'stepz'"));
}

TEST(Config, WrongTypesAreClearErrors) {
  OuterConfig config;
  EXPECT_THAT(error_of([&] { read_config(parse_yaml("steps: many\n", "t"), config); }),
              HasSubstr("config key 'steps' expects an integer, got 'many'"));
  EXPECT_THAT(error_of([&] { read_config(parse_yaml("range: 3\n", "t"), config); }),
              HasSubstr("'range' expects a list"));
  EXPECT_THAT(error_of([&] { read_config(parse_yaml("inner: 3\n", "t"), config); }),
              HasSubstr("'inner' must be a map"));
}

TEST(Config, ValidateRunsOnNestedStructsWithTheirPath) {
  OuterConfig config;
  EXPECT_THAT(error_of([&] { read_config(parse_yaml("inner: {tau: -1}\n", "t"), config); }),
              HasSubstr("inner.tau must be >= 0"));
}

TEST(Config, OverridesCreateNestedKeysAndParseYamlValues) {
  YAML::Node root = parse_yaml("steps: 5\n", "t");
  apply_override(root, "inner.tau=0.5");
  apply_override(root, "range=[0.1, 0.2]");
  apply_override(root, "flag=true");
  OuterConfig config;
  read_config(root, config);
  EXPECT_EQ(config.steps, 5);
  EXPECT_DOUBLE_EQ(config.inner.tau, 0.5);
  EXPECT_EQ(config.range, (std::vector<double>{0.1, 0.2}));
  EXPECT_TRUE(config.flag);
}

TEST(Config, MalformedOverridesAreRejected) {
  YAML::Node root = parse_yaml("steps: 5\n", "t");
  EXPECT_THAT(error_of([&] { apply_override(root, "steps"); }), HasSubstr("key=value"));
  EXPECT_THAT(error_of([&] { apply_override(root, "=3"); }), HasSubstr("key=value"));
  EXPECT_THAT(error_of([&] { apply_override(root, "a..b=3"); }), HasSubstr("empty component"));
  EXPECT_THAT(error_of([&] { apply_override(root, "steps.x=3"); }), HasSubstr("is a value"));
}

TEST(Config, MergeIsDeepAndOverlayWins) {
  YAML::Node base = parse_yaml("steps: 1\ninner: {tau: 0.2, pairs: noise}\n", "base");
  merge_yaml(base, parse_yaml("inner: {pairs: timestep}\n", "overlay"));
  OuterConfig config;
  read_config(base, config);
  EXPECT_EQ(config.steps, 1);
  EXPECT_DOUBLE_EQ(config.inner.tau, 0.2);
  EXPECT_EQ(config.inner.pairs, "timestep");
}

TEST(Config, JsonHoldsEveryResolvedValue) {
  OuterConfig config;
  config.inner.tau = 0.25;
  const auto json = config_to_json(config);
  EXPECT_EQ(json["steps"], 100);
  EXPECT_DOUBLE_EQ(json["inner"]["tau"].get<double>(), 0.25);
  EXPECT_EQ(json["range"].size(), 2u);
}

TEST(Config, InvalidYamlNamesOriginAndLine) {
  EXPECT_THAT(error_of([] { parse_yaml("a: [1, 2\nb: 3\n", "my.yaml"); }), HasSubstr("my.yaml: invalid YAML"));
}

TEST(Config, EveryEmbeddedPresetParses) {
  ASSERT_FALSE(preset_names().empty());
  for (const auto& name : preset_names()) EXPECT_NO_THROW(load_preset(name)) << name;
  EXPECT_THAT(error_of([] { load_preset("no-such-preset"); }), HasSubstr("presets: "));
}

}  // namespace
}  // namespace dreamdpo::core
