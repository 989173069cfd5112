#!/bin/sh
# Runs inside the KVM suite's TCG guest (run-qemu-on-kvm puts it there):
# vmemcheck qemu --accel kvm on SCENARIO, then the same with the planted KVM
# call difference, which must be reported. Prints "qemu-on-kvm: ok" and
# exits 0 only when the first run compared calls with 0 differences and the
# planted run reported its difference.
vmemcheck=$1
scenario=$2
uptime() { cut -d' ' -f1 /proc/uptime; }
start=$(uptime)
"$vmemcheck" qemu --qemu-version 10.0 --accel kvm "$scenario"
status=$?
echo "qemu-on-kvm: compared run exit $status ($start s to $(uptime) s of the guest's uptime)"
start=$(uptime)
"$vmemcheck" qemu --qemu-version 10.0 --accel kvm --plant-kvm-difference -q "$scenario" > /tmp/planted.log 2>&1
planted=$?
sed -n "/^KVM DIFFERENCE/,/^KVM calls/p" /tmp/planted.log
echo "qemu-on-kvm: planted run exit $planted ($start s to $(uptime) s)"
if [ "$status" -eq 0 ] && [ "$planted" -eq 1 ] && grep -q "KVM DIFFERENCE" /tmp/planted.log; then
  echo "qemu-on-kvm: ok"
  exit 0
fi
echo "qemu-on-kvm: FAILED"
exit 1
