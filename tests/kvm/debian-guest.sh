# Shared by the scripts that boot Debian's kernel under QEMU with a busybox
# initramfs (run-in-tcg-guest for the KVM suite, tests/guest/ for the
# virtio-mem guest): fetching the kernel package once, copying modules,
# programs and their libraries into the initramfs, and packing it.
# Sourced, not run; every function fails the calling script (set -e) on error.

# Unpacks the kernel linux-image-amd64 points at into WORKDIR/kernel (once)
# and sets `vmlinuz` and `modules` (its lib/modules/VERSION/kernel folder).
fetch_debian_kernel() {
  local workdir=$1 kernel_dir=$1/kernel package
  if ! ls "$kernel_dir"/boot/vmlinuz-* >/dev/null 2>&1; then
    package=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
    [ -n "$package" ] || { echo "debian-guest: apt-cache does not know linux-image-amd64" >&2; exit 2; }
    echo "debian-guest: downloading $package"
    rm -rf "$workdir/download" && mkdir -p "$workdir/download"
    if ! (cd "$workdir/download" && apt-get download -q "$package"); then
      # Stale package lists on a fresh machine: refresh once and retry.
      if [ "$(id -u)" -eq 0 ]; then apt-get update -q; else sudo apt-get update -q; fi
      (cd "$workdir/download" && apt-get download -q "$package")
    fi
    rm -rf "$kernel_dir.tmp" && dpkg -x "$workdir"/download/*.deb "$kernel_dir.tmp"
    mv "$kernel_dir.tmp" "$kernel_dir" && rm -rf "$workdir/download"
  fi
  vmlinuz=$(ls "$kernel_dir"/boot/vmlinuz-* | head -n 1)
  modules=$(ls -d "$kernel_dir"/lib/modules/* | head -n 1)/kernel
}

# A fresh initramfs tree at ROOT holding busybox.
start_initramfs() {
  local root=$1
  command -v busybox >/dev/null || { echo "debian-guest: busybox is missing (scripts/install-deps)" >&2; exit 2; }
  rm -rf "$root" && mkdir -p "$root"/{bin,dev,proc,sys,tmp,modules,run/bin}
  cp "$(command -v busybox)" "$root/bin/busybox"
}

# Copies kernel modules, given as paths below `modules`, into ROOT/modules;
# a .ko.xz is uncompressed there, since busybox's insmod reads plain .ko.
add_modules() {
  local root=$1 module src
  shift
  for module in "$@"; do
    src=$modules/$module
    [ -f "$src" ] || src=$src.xz
    [ -f "$src" ] || { echo "debian-guest: module $module not in $modules" >&2; exit 2; }
    case "$src" in *.xz) xz -dc "$src" > "$root/modules/$(basename "$module")" ;; *) cp "$src" "$root/modules/" ;; esac
  done
}

# Copies a program into ROOT/run/bin and its shared libraries to the paths
# the dynamic loader looks for them at.
add_program() {
  cp "$2" "$1/run/bin/"
  add_libraries "$1" "$2"
}

# Copies PATH (a file, or a folder with its symlinks kept) into ROOT at the
# same absolute path, with the shared libraries of every ELF program or
# library in it (QEMU's binary and its modules), so a program that names
# the path (vmemcheck's QEMU 10 in /opt) finds it there.
add_tree() {
  local root=$1 path=$2 file
  mkdir -p "$root$(dirname "$path")"
  cp -a "$path" "$root$(dirname "$path")/"
  find "$path" -type f \( -perm -u+x -o -name '*.so' \) | while read -r file; do
    if head -c 4 "$file" | grep -q ELF; then add_libraries "$root" "$file"; fi
  done
}

# Copies the shared libraries `ldd` lists for PROGRAM to the paths the
# dynamic loader looks for them at (once each).
add_libraries() {
  local root=$1 program=$2 lib
  { ldd "$program" 2>/dev/null || true; } | awk '/=> \// {print $3} /^\t\/[^ ]+ \(/ {print $1}' | while read -r lib; do
    [ -e "$root$lib" ] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
}

# Packs ROOT (which has an executable /init) into OUT, a gzipped cpio.
pack_initramfs() {
  (cd "$1" && find . | cpio -o -H newc --quiet | gzip -1) > "$2"
}
