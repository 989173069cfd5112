// Executes scenarios on a machine over the shadow KVM model, and checks after
// every step: the reference model (responses, config space, error state,
// mapped memslots), DESIGN §3's invariants, the guest view (invariant 7) and
// the step's own "=> OUTCOME" expectation.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "guest_ram.hpp"
#include "invariants.hpp"
#include "host_memory.hpp"
#include "machine.hpp"
#include "outcome.hpp"
#include "platform.hpp"
#include "queue_reference.hpp"
#include "reference_model.hpp"
#include "scenario.hpp"
#include "sequence_census.hpp"
#include "shadow_kvm.hpp"

namespace vmemcheck::scenario {

struct StepReport {
  int line = 0;
  std::string op_text;
  Outcome outcome;                   // to_text(): "ACK", "ok", "error: ...", "0x2a", "unmapped", ...
  std::string output;                // what mtree/slots print
  std::vector<std::string> problems;  // mismatches, broken invariants, failed expectations
};

struct RunOptions {
  bool check_model = true;
  bool check_invariants = true;
  Platform* platform = nullptr;  // null: the shadow model alone (shadow_platform())
  // false: StepReport::op_text and the output of mtree/slots stay empty (a
  // fuzzer prints the text only for a failing input, and formatting every
  // step, or a table of thousands of memslots, costs it exec/s).
  bool describe_steps = true;
};

class Runner {
 public:
  explicit Runner(RunOptions options = {});
  ~Runner();

  StepReport step(const Step& step);

  // Null until the first machine or device operation.
  const Machine* machine() const { return machine_.get(); }
  const ShadowKvm* kvm() const { return kvm_.get(); }
  const ReferenceModel* model(const std::string& device) const;
  const Virtqueue* queue(const std::string& device) const;
  const SequenceCensus& census() const { return census_; }

 private:
  // Device memory as the virtqueue's DMA sees it: every write there goes
  // to the models' guest data too (invariant 7).
  class DmaView final : public GuestMemory {
   public:
    DmaView(Runner& runner, GuestMemory& devices) : runner_(runner), devices_(devices) {}
    bool read(uint64_t gpa, std::span<uint8_t> bytes) override { return devices_.read(gpa, bytes); }
    bool write(uint64_t gpa, std::span<const uint8_t> bytes) override;
    bool accessible(uint64_t gpa, uint64_t size) const override { return devices_.accessible(gpa, size); }

   private:
    Runner& runner_;
    GuestMemory& devices_;
  };

  // Each operation on the machine and the reference models (one per kind of Op).
  void execute(const ConfigureMachine&, StepReport& report);
  void execute(const AddDevice&, StepReport& report);
  void execute(const RemoveDevice&, StepReport& report);
  void execute(const GuestRequest&, StepReport& report);
  void execute(const RawRequest&, StepReport& report);
  void execute(const Resize&, StepReport& report);
  void execute(const SystemReset&, StepReport& report);
  void execute(const VirtioReset&, StepReport& report);
  void execute(const SetBusy&, StepReport& report);
  void execute(const NegotiateFeatures&, StepReport& report);
  void execute(const Migrate&, StepReport& report);
  void execute(const InjectFault&, StepReport& report);
  void execute(const AddVhost&, StepReport& report);
  void execute(const GuestAccess&, StepReport& report);
  void execute(const SetupQueue&, StepReport& report);
  void execute(const Poke&, StepReport& report);
  void execute(const Kick&, StepReport& report);
  void execute(const ShowMtree&, StepReport& report);
  void execute(const ShowSlots&, StepReport& report);
  void execute(const Expect&, StepReport& report);
  // A recorded QEMU's observation, for the comparison loop to compare with
  // the core's snapshot (recorded_device_under_test.hpp): nothing to run here.
  void execute(const Checkpoint&, StepReport& report) { report.outcome = Outcome::ok(); }
  Status start_machine(const ConfigureMachine& config);
  void compare_with_models(StepReport& report) const;
  // The machine's memslot budget from the models' memslots and the vhost
  // backends the runner added, to check Machine::budget() against.
  // Without device `leaving` (a migration's destination decides without its source).
  MemslotBudget reference_budget(const std::string& leaving = {}) const;
  // The bytes of the device-memory area the models' devices occupy, but `leaving`'s.
  uint64_t reference_used_region(const std::string& leaving = {}) const;
  void check_negotiation(const DeviceConfig& config, uint64_t driver_features, const Result<uint64_t>& negotiated,
                         StepReport& report) const;
  void check_response_bytes(const KickResult& kick, const QueueLayout& layout, StepReport& report) const;
  void check_used_ring(const std::string& device, const KickResult& kick, const QueueLayout& layout,
                       StepReport& report);
  // The reference's verdict on a configuration, compared with validate():
  // the rule it breaks, or nullopt.
  std::optional<std::string_view> check_config(const DeviceConfig& config, StepReport& report) const;
  // A guest's 8-byte access: through the platform's vCPU, else the memslots'
  // host memory. False: no memory there.
  bool guest_load(uint64_t gpa, std::span<uint8_t, 8> bytes);
  bool guest_store(uint64_t gpa, std::span<const uint8_t, 8> bytes);
  const VirtioMemDevice* device_at(uint64_t gpa) const;
  // The guest data of the device holding `gpa` (null where no device or no
  // model is), `gpa`'s offset in it and the bytes from there to the device's end.
  struct GuestDataAt {
    ReferenceGuestData* data = nullptr;
    uint64_t offset = 0;
    uint64_t device_left = 0;  // 0: no device at gpa
  };
  GuestDataAt guest_data_at(uint64_t gpa);
  // What a vCPU store at `gpa` leaves in the models' guest data.
  void remember_store(uint64_t gpa, std::span<const uint8_t, 8> bytes, bool accessible);
  std::optional<uint64_t> resolve(const std::string& device, const Address& addr) const;
  VirtioMemDevice* device(const std::string& id) const;
  ReferenceModel* model_of(const std::string& id);
  // What the expectation finds wrong, one entry each; empty: it holds.
  std::vector<std::string> check_expectations(const Expect& expect) const;

  RunOptions options_;
  Platform& platform_;
  // Destroyed bottom-up: the machine unmaps its memslots while the session's
  // VM and the shadow still exist.
  std::unique_ptr<ShadowKvm> kvm_;
  std::unique_ptr<PlatformSession> session_;
  std::unique_ptr<Machine> machine_;
  std::map<std::string, ReferenceModel> models_;
  SequenceCensus census_;
  std::vector<VhostBackend> vhosts_;  // the ones the machine accepted
  // Boot RAM below the device-memory area, where drivers keep their queues.
  std::unique_ptr<GuestRam> ram_;
  std::unique_ptr<DmaView> dma_;
  std::unique_ptr<GuestAddressSpace> address_space_;
  std::map<std::string, Virtqueue> queues_;
  QueueReference queue_reference_;  // the reference virtqueue beside each of queues_
  // Per queue, the used elements the driver has seen published since the
  // queue was set up or reset (mod 2^16, as the ring's index); unknown after
  // a transport fault, until the next reset.
  std::map<std::string, std::optional<uint16_t>> used_published_;
  InvariantMonitor monitor_;
};

}  // namespace vmemcheck::scenario
