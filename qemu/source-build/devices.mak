# The devices vmemcheck's QEMU build holds (scripts/build-qemu passes it as
# --with-devices-x86_64 with --without-default-devices): what
# qemu/qemu_machine.cpp starts, nothing more. Q35 selects its chipset (ICH9
# LPC, AHCI, PCIe host, fw_cfg, ACPI); memory backends, NUMA, migration and
# qtest are not devices and always built. A device QEMU's defaults would add
# (-nodefaults leaves them out anyway) only costs build time here.
# pcie-root-port: a hot-pluggable slot for a device vmemcheck removes
# (device_del; q35's pcie.0 does not hotplug).
CONFIG_Q35=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_MEM=y
CONFIG_PCIE_PORT=y
