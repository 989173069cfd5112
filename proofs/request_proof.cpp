// Proof 2: request validation (DESIGN §6 "Range check", shared by
// PLUG, UNPLUG and STATE) is exactly its specification.
//
// Specification, in unbounded arithmetic (128 bits, where nothing wraps): a
// request of nb_blocks blocks at gpa is valid exactly when gpa is block
// aligned, nb_blocks >= 1, gpa >= the device's address, and
// gpa + nb_blocks * block <= the device's address + usable_region_size.
// Code: decision::request_range_valid as device.cpp calls it, with the 16-bit
// nb_blocks of the wire format and the device's 64-bit wrapping arithmetic.
// Proven for every 64-bit gpa and every 16-bit block count.
#include <fmt/format.h>

#include "device_config.hpp"
#include "kvm_vm.hpp"
#include "proofs.hpp"
#include "units.hpp"

namespace vmemcheck::proofs {

void request_proof(Prover& p) {
  z3::context& c = p.ctx();
  const z3::expr device_addr = p.word("addr"), region = p.word("region"), block = p.word("block"),
                 usable = p.word("usable"), gpa = p.word("gpa");
  const z3::expr nb_blocks = z3::zext(c.bv_const("nb_blocks", 16), kWordBits - 16);

  const z3::expr accepted =
      decision::request_range_valid(device_addr, usable, block, gpa, nb_blocks);
  const z3::expr specification =
      is_multiple(gpa, block) && z3::uge(nb_blocks, p.word(1)) && z3::uge(gpa, device_addr) &&
      z3::ule(wide(gpa) + wide(nb_blocks) * wide(block), wide(device_addr) + wide(usable));

  // What device configuration (validate()) and the usable-region invariant
  // give the device. block <= KVM's largest memslot: the machine refuses a
  // device whose memslots exceed it (machine.cpp), and every memslot holds at
  // least one block; so nb_blocks * block < 2^16 * 2^43 cannot wrap. (With a
  // block of 2^49 or more, a wrapped size would pass: README.)
  const z3::expr device =
      is_power_of_two(block) && z3::uge(block, p.word(MiB)) && z3::ule(block, p.word(kKvmMaxSlotBytes)) &&
      region != p.word(0) && is_multiple(region, block) && is_multiple(device_addr, block) &&
      z3::ule(region, p.word(kMaxGuestPhysical)) &&
      z3::ule(device_addr, p.word(kMaxGuestPhysical) - region) && z3::ule(usable, region) &&
      is_multiple(usable, block);

  const z3::expr accepted_bit = z3::ite(accepted, p.word(1), p.word(0));
  // A counterexample runs on a device whose whole region is usable.
  const z3::expr small = device_addr == p.word(0x140000000) && z3::ule(region, p.word(64 * GiB)) &&
                         usable == region;
  const auto scenario = [=](const Counterexample& value) -> std::optional<std::string> {
    if (value(device_addr) != 0x140000000 || value(usable) != value(region)) return std::nullopt;
    return fmt::format(
        "# Counterexample of proof request.valid: the range check disagrees with\n"
        "# DESIGN §6. The outcome expected is the proven code's; the run fails on\n"
        "# the reference model's answer or on that outcome.\n"
        "machine base=0x140000000 size={}\n"
        "device vmem0 size={} block={} requested={} mode=static => ok addr=0x140000000\n"
        "plug vmem0 {:#x} {} => {}\n",
        format_size(value(region)), format_size(value(region)), format_size(value(block)),
        format_size(value(region)), value(gpa), value(nb_blocks),
        value(accepted_bit) ? "ACK" : "ERROR");
  };
  p.prove({"request.valid", device, accepted == specification, small, scenario,
           {{"device addr", device_addr}, {"region", region}, {"block", block}, {"usable", usable},
            {"gpa", gpa}, {"nb_blocks", nb_blocks},
            {"accepted", accepted_bit},
            {"specification", z3::ite(specification, p.word(1), p.word(0))}}});
}

}  // namespace vmemcheck::proofs
