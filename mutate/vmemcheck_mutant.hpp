// The run-time switch of the mutant schemata (mutate/schemata.py): every
// mutant of the device under test is compiled into one build, and
// VMEMCHECK_MUTANT=<id> switches on the one under test (0 or unset: none, the
// device as written). VMEMCHECK_MUTANT_REACHED=<dir> records which mutation
// points a run reached, so that a killer runs only for mutants it can reach.
//
// Every helper evaluates its operands once, like the expression it replaces,
// and is constexpr: in a constant evaluation no mutant is on.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

#include <unistd.h>

namespace vmemcheck_mutant {

inline unsigned long active() {
  static const unsigned long id = [] {
    const char* text = std::getenv("VMEMCHECK_MUTANT");
    return text ? std::strtoul(text, nullptr, 10) : 0UL;
  }();
  return id;
}

// The points reached, written to <dir>/reached-<pid> when the process exits.
class ReachedPoints {
 public:
  static ReachedPoints* instance() {
    static ReachedPoints* points = [] {
      const char* dir = std::getenv("VMEMCHECK_MUTANT_REACHED");
      if (!dir) return static_cast<ReachedPoints*>(nullptr);
      auto* created = new ReachedPoints(dir);
      std::atexit([] { instance()->write(); });
      return created;
    }();
    return points;
  }
  void mark(unsigned long id) {
    if (id >= reached_.size()) reached_.resize(id + 1024, false);
    reached_[id] = true;
  }

 private:
  explicit ReachedPoints(std::string dir) : dir_(std::move(dir)) {}
  void write() const {
    const std::string path = dir_ + "/reached-" + std::to_string(::getpid());
    if (std::FILE* file = std::fopen(path.c_str(), "w")) {
      for (unsigned long id = 0; id < reached_.size(); ++id) {
        if (reached_[id]) std::fprintf(file, "%lu\n", id);
      }
      std::fclose(file);
    }
  }
  std::string dir_;
  std::vector<bool> reached_;
};

inline bool on_at_run_time(unsigned long id) {
  if (ReachedPoints* reached = ReachedPoints::instance()) reached->mark(id);
  return active() == id;
}

constexpr bool on(unsigned long id) {
  if (std::is_constant_evaluated()) return false;
  return on_at_run_time(id);
}

// `a < b` and its flip, and so on: the operator written, or its partner.
template <class A, class B>
constexpr auto less(unsigned long id, const A& a, const B& b) { return on(id) ? a <= b : a < b; }
template <class A, class B>
constexpr auto less_equal(unsigned long id, const A& a, const B& b) { return on(id) ? a < b : a <= b; }
template <class A, class B>
constexpr auto greater(unsigned long id, const A& a, const B& b) { return on(id) ? a >= b : a > b; }
template <class A, class B>
constexpr auto greater_equal(unsigned long id, const A& a, const B& b) { return on(id) ? a > b : a >= b; }
template <class A, class B>
constexpr auto equal(unsigned long id, const A& a, const B& b) { return on(id) ? a != b : a == b; }
template <class A, class B>
constexpr auto not_equal(unsigned long id, const A& a, const B& b) { return on(id) ? a == b : a != b; }

// The value, one more (mutant id) or one less (mutant id + 1). A decision
// template's Z3 word gets its one from `literal`, found by argument-dependent
// lookup like the templates' own.
template <class T>
constexpr T off_by_one(unsigned long id, T value) {
  if constexpr (std::is_integral_v<T>) {
    if (on(id)) return static_cast<T>(value + 1);
    if (on(id + 1)) return static_cast<T>(value - 1);
  } else {
    if (on(id)) return value + literal(value, 1);
    if (on(id + 1)) return value - literal(value, 1);
  }
  return value;
}

// A condition of a decision template (bool, or a Z3 Boolean), negated.
template <class T>
constexpr T negated(unsigned long id, T condition) {
  if (on(id)) return !condition;
  return condition;
}

// The value written, or the k-th other one (mutant id + k - 1).
template <class T, class... Others>
constexpr T one_of(unsigned long id, T written, Others... others) {
  unsigned long k = 0;
  T chosen = written;
  ((chosen = on(id + k++) ? others : chosen), ...);
  return chosen;
}

// A bound, or the k-th other bound of the function (mutant id + k - 1), at
// their common type: an integer of the same signedness, so the value
// compared is the one written.
template <class T, class... Others>
constexpr std::common_type_t<T, Others...> bound(unsigned long id, T written, Others... others) {
  using Common = std::common_type_t<T, Others...>;
  unsigned long k = 0;
  Common chosen = written;
  ((chosen = on(id + k++) ? static_cast<Common>(others) : chosen), ...);
  return chosen;
}

// `static_cast<Narrow>(wide)` held in an `auto` or passed on wider: the value
// stays wide (the int the arithmetic gave), so the wrap is lost when on.
template <class Narrow, class Wide>
constexpr Wide wrap_lost(unsigned long id, Wide wide) {
  if (on(id)) return wide;
  return static_cast<Wide>(static_cast<Narrow>(wide));
}

// Arithmetic on narrow operands the code keeps wide, wrapped to their type
// when on, as an `auto` of that type would.
template <class Narrow, class Wide>
constexpr Wide wrap_added(unsigned long id, Wide wide) {
  if (on(id)) return static_cast<Wide>(static_cast<Narrow>(wide));
  return wide;
}

}  // namespace vmemcheck_mutant
