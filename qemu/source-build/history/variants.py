"""QEMU 10.0.2's hw/virtio/virtio-mem.c with a bug put back: the historical
fixes undone and hand-written mutants of the memslot code (issue 23 item 6).

Listed once, here: scripts/qemu-history writes each variant's patch
(history/NAME.patch, against 10.0.2), builds one QEMU holding all of them
behind a run-time switch (VMEMCHECK_QEMU_VARIANT=NAME; unset = 10.0.2) and
measures whether `vmemcheck qemu` catches each (docs/qemu-history.md).

An edit replaces `original`, found as the first occurrence after `anchor`
(a function's signature), by `mutated`; `switched_edits`, when given,
replace `edits` in the switched build only (where edits of several variants
would overlap), with the same effect. kind: "stmt" (whole statements:
wrapped in if/else in the switched build), "expr" (an expression: a ?:),
"decl" (a new definition: added unconditionally there).
"""

VARIANTS = [
    # ---- historical fixes, undone -------------------------------------------
    dict(name="h-bitmap-index-section-offset", kind="history",
         title="virtio-mem: Fix the bitmap index of the section offset",
         date="2022-12-16 (Chenyi Qiang; QEMU 8.0)",
         reachable="no: only RamDiscardListeners (VFIO, guest_memfd) and migration's "
                   "replay of discarded ranges call these walks, always with sections "
                   "at offset 0 on x86 q35 without VFIO",
         edits=[dict(anchor="static int virtio_mem_for_each_plugged_section(", kind="stmt",
                     original="first_bit = s->offset_within_region / vmem->block_size;",
                     mutated="first_bit = s->offset_within_region / vmem->bitmap_size;"),
                dict(anchor="static int virtio_mem_for_each_unplugged_section(", kind="stmt",
                     original="first_bit = s->offset_within_region / vmem->block_size;",
                     mutated="first_bit = s->offset_within_region / vmem->bitmap_size;")]),
    dict(name="h-rdl-iterator", kind="history",
         title="virtio-mem: Fix the iterator variable in a vmem->rdl_list loop",
         date="2022-12-28 (Chenyi Qiang; QEMU 8.0)",
         reachable="no: the rollback loop runs only when a second RamDiscardListener "
                   "fails to populate (VFIO); qtest registers none",
         edits=[dict(anchor="static int virtio_mem_notify_plug(", kind="expr",
                     original="*rdl2->section", mutated="*rdl->section")]),
    dict(name="h-divzero-static-memslots", kind="history",
         title="virtio-mem: fix division by zero in virtio_mem_activate_memslots_to_plug()",
         date="2023-10-23 (David Hildenbrand; QEMU 8.2, after the dynamic-memslots series)",
         reachable="yes: any plug or unplug on a device with dynamic-memslots=off "
                   "(memslot_size 0); found upstream with a debug build",
         edits=[dict(anchor="static void virtio_mem_activate_memslots_to_plug(", kind="stmt",
                     original="assert(vmem->dynamic_memslots);",
                     mutated="if (!vmem->dynamic_memslots) {\n        return;\n    }"),
                dict(anchor="static void virtio_mem_deactivate_unplugged_memslots(", kind="stmt",
                     original="assert(vmem->dynamic_memslots);",
                     mutated="if (!vmem->dynamic_memslots) {\n        return;\n    }"),
                dict(anchor="static int virtio_mem_set_block_state(", kind="stmt",
                     original="if (vmem->dynamic_memslots) {\n"
                              "            virtio_mem_deactivate_unplugged_memslots(vmem, offset, size);\n"
                              "        }",
                     mutated="virtio_mem_deactivate_unplugged_memslots(vmem, offset, size);"),
                dict(anchor="static int virtio_mem_set_block_state(", kind="stmt",
                     original="if (vmem->dynamic_memslots) {\n"
                              "            virtio_mem_activate_memslots_to_plug(vmem, offset, size);\n"
                              "        }",
                     mutated="virtio_mem_activate_memslots_to_plug(vmem, offset, size);"),
                dict(anchor="static int virtio_mem_set_block_state(", kind="stmt",
                     original="if (ret && vmem->dynamic_memslots) {", mutated="if (ret) {"),
                dict(anchor="static int virtio_mem_unplug_all(", kind="stmt",
                     original="if (vmem->dynamic_memslots) {\n"
                              "            virtio_mem_deactivate_unplugged_memslots(vmem, 0, region_size);\n"
                              "        }",
                     mutated="virtio_mem_deactivate_unplugged_memslots(vmem, 0, region_size);")],
         # In the switched build the edits above would overlap other variants'
         # edits of the same lines; what the bug does instead: the division by
         # memslot_size (0 without dynamic memslots) on every plug, unplug and
         # unplug-all with blocks plugged, as the unguarded calls computed their
         # indexes before returning (volatile: kept at -O2, as upstream's debug
         # build kept it).
         switched_edits=[
             dict(anchor="static int virtio_mem_set_block_state(", kind="decl",
                  original="    if (virtio_mem_is_busy()) {\n        return -EBUSY;\n    }\n",
                  mutated="    if (virtio_mem_is_busy()) {\n        return -EBUSY;\n    }\n"
                          "    if (vmemcheck_variant(\"h-divzero-static-memslots\") && !vmem->dynamic_memslots) {\n"
                          "        volatile uint64_t memslot_size = vmem->memslot_size;\n"
                          "        (void)(offset / memslot_size);\n    }\n"),
             dict(anchor="static int virtio_mem_unplug_all(", kind="decl",
                  original="        notifier_list_notify(&vmem->size_change_notifiers, &vmem->size);\n",
                  mutated="        notifier_list_notify(&vmem->size_change_notifiers, &vmem->size);\n"
                          "        if (vmemcheck_variant(\"h-divzero-static-memslots\") && !vmem->dynamic_memslots) {\n"
                          "            volatile uint64_t memslot_size = vmem->memslot_size;\n"
                          "            (void)(region_size / memslot_size);\n        }\n")]),
    dict(name="h-unplug-on-device-reset", kind="history",
         title="virtio-mem: unplug memory only during system resets, not device resets",
         date="2024-10-25 (David Hildenbrand; pulled 2024-12-18, QEMU 10.0); undoes the effect of "
              "c009a311e939 \"virtio-mem: Use new Resettable framework instead of LegacyReset\" (9.2)",
         reachable="yes: the bug unplugs all memory on a device cold reset (device_cold_reset), which "
                   "a PCIe function-level reset written into config space is; vmemcheck's driver sends "
                   "one (virtio-reset ID flr) to a device behind its pcie-root-port",
         # 9.2's code: the device class's own Resettable hold phase unplugs
         # everything. Its ResettableState lived in VirtIOMEM (a header
         # change); here a static one stands in (one device per QEMU). The
         # system-reset object of the fix stays registered: a system reset
         # then unplugs twice, which changes nothing.
         edits=[dict(anchor="static void virtio_mem_class_init(", kind="decl",
                     original="static void virtio_mem_class_init(",
                     mutated="static ResettableState virtio_mem_reset_state;\n\n"
                             "static ResettableState *virtio_mem_get_reset_state(Object *obj)\n"
                             "{\n    return &virtio_mem_reset_state;\n}\n\n"
                             "static void virtio_mem_device_reset_hold(Object *obj, ResetType type)\n"
                             "{\n    VirtIOMEM *vmem = VIRTIO_MEM(obj);\n\n"
                             "    if (type == RESET_TYPE_WAKEUP) {\n        return;\n    }\n"
                             "    virtio_mem_unplug_all(vmem);\n}\n\n"
                             "static void virtio_mem_class_init("),
                dict(anchor="static void virtio_mem_class_init(", kind="stmt",
                     original="rdmc->unregister_listener = virtio_mem_rdm_unregister_listener;",
                     mutated="rdmc->unregister_listener = virtio_mem_rdm_unregister_listener;\n"
                             "    RESETTABLE_CLASS(klass)->get_state = virtio_mem_get_reset_state;\n"
                             "    RESETTABLE_CLASS(klass)->phases.hold = virtio_mem_device_reset_hold;")]),
    dict(name="h-unplug-on-wakeup", kind="history",
         title="virtio-mem: Add support for suspend+wake-up with plugged memory",
         date="2024-09-04 (Juraj Marcin; pulled 2024-09-24, QEMU 9.2)",
         reachable="no: a wake-up reset needs a guest that suspended (system_wakeup "
                   "is refused while the machine is not suspended)",
         edits=[dict(anchor="static void virtio_mem_system_reset_hold(", kind="expr",
                     original="type == RESET_TYPE_WAKEUP", mutated="false")]),

    # ---- hand-written mutants of the memslot code ---------------------------
    dict(name="m-decide-align-down", kind="mutant",
         title="memslot decision: memslot size rounded down to the block size",
         edits=[dict(anchor="static void virtio_mem_decide_memslots(", kind="expr",
                     original="QEMU_ALIGN_UP(region_size / limit, vmem->block_size)",
                     mutated="QEMU_ALIGN_DOWN(region_size / limit, vmem->block_size)")]),
    dict(name="m-decide-no-minimum", kind="mutant",
         title="memslot decision: the 1 GiB minimum memslot size forgotten",
         edits=[dict(anchor="static void virtio_mem_decide_memslots(", kind="stmt",
                     original="min_memslot_size = MAX(vmem->block_size, VIRTIO_MEM_MIN_MEMSLOT_SIZE);",
                     mutated="min_memslot_size = vmem->block_size;")]),
    dict(name="m-decide-drop-partial", kind="mutant",
         title="memslot decision: a last, partial memslot not counted",
         edits=[dict(anchor="static void virtio_mem_decide_memslots(", kind="stmt",
                     original="memslots = QEMU_ALIGN_UP(region_size, memslot_size) / memslot_size;",
                     mutated="memslots = MAX(region_size / memslot_size, 1);")]),
    dict(name="m-plug-no-activation", kind="mutant",
         title="activation on plug: memslots not mapped when blocks are plugged",
         edits=[dict(anchor="static int virtio_mem_set_block_state(", kind="stmt",
                     original="virtio_mem_activate_memslots_to_plug(vmem, offset, size);",
                     mutated=";")]),
    dict(name="m-plug-end-idx", kind="mutant",
         title="activation on plug: the memslot a plug ends in is not mapped (end rounded down)",
         edits=[dict(anchor="static void virtio_mem_activate_memslots_to_plug(", kind="expr",
                     original="(offset + size + vmem->memslot_size - 1)",
                     mutated="(offset + size)")]),
    dict(name="m-plug-start-idx", kind="mutant",
         title="activation on plug: the memslot a plug starts in is not mapped (start rounded up)",
         edits=[dict(anchor="static void virtio_mem_activate_memslots_to_plug(", kind="expr",
                     original="offset / vmem->memslot_size",
                     mutated="(offset + vmem->memslot_size - 1) / vmem->memslot_size")]),
    dict(name="m-unplug-no-deactivation", kind="mutant",
         title="deactivation: a memslot whose last block goes stays mapped",
         edits=[dict(anchor="static int virtio_mem_set_block_state(", kind="stmt",
                     original="virtio_mem_deactivate_unplugged_memslots(vmem, offset, size);",
                     mutated=";")]),
    dict(name="m-unplug-deactivate-partial", kind="mutant",
         title="deactivation: a partly covered memslot unmapped though blocks stay plugged",
         edits=[dict(anchor="static void virtio_mem_deactivate_unplugged_memslots(", kind="expr",
                     original="!virtio_mem_is_range_unplugged(vmem, gpa, memslot_size)",
                     mutated="false")]),
    dict(name="m-unplug-last-memslot-size", kind="mutant",
         title="deactivation: the last memslot taken as full-sized (its size not cut)",
         edits=[dict(anchor="static void virtio_mem_deactivate_unplugged_memslots(", kind="stmt",
                     original="memslot_size = region_size - memslot_offset;",
                     mutated=";")]),
    dict(name="m-unplug-all-no-deactivation", kind="mutant",
         title="unplug-all (and reset): memslots stay mapped",
         edits=[dict(anchor="static int virtio_mem_unplug_all(", kind="stmt",
                     original="virtio_mem_deactivate_unplugged_memslots(vmem, 0, region_size);",
                     mutated=";")]),
    dict(name="m-unplug-all-no-shrink", kind="mutant",
         title="unplug-all (and reset): the usable region is not shrunk",
         edits=[dict(anchor="static int virtio_mem_unplug_all(", kind="stmt",
                     original="virtio_mem_resize_usable_region(vmem, vmem->requested_size, true);",
                     mutated="virtio_mem_resize_usable_region(vmem, vmem->requested_size, false);")]),
    dict(name="m-unplug-on-virtio-reset", kind="mutant",
         title="virtio reset (status 0) unplugs all memory, as a system reset does",
         edits=[dict(anchor="static void virtio_mem_class_init(", kind="decl",
                     original="static void virtio_mem_class_init(",
                     mutated="static void virtio_mem_device_reset(VirtIODevice *vdev)\n"
                             "{\n    virtio_mem_unplug_all(VIRTIO_MEM(vdev));\n}\n\n"
                             "static void virtio_mem_class_init("),
                dict(anchor="static void virtio_mem_class_init(", kind="stmt",
                     original="vdc->unrealize = virtio_mem_device_unrealize;",
                     mutated="vdc->unrealize = virtio_mem_device_unrealize;\n"
                             "    vdc->reset = virtio_mem_device_reset;")]),
    dict(name="m-reset-no-unplug", kind="mutant",
         title="system reset: nothing unplugged (every reset taken as a wake-up)",
         edits=[dict(anchor="static void virtio_mem_system_reset_hold(", kind="expr",
                     original="type == RESET_TYPE_WAKEUP", mutated="true")]),
    dict(name="m-postload-no-activation", kind="mutant",
         title="post-load: the destination maps no memslot for the migrated plugged blocks",
         edits=[dict(anchor="static int virtio_mem_post_load_bitmap(", kind="stmt",
                     original="virtio_mem_for_each_plugged_range(vmem, NULL,\n"
                              "                                          virtio_mem_activate_memslot_range_cb);",
                     mutated=";")]),
    dict(name="m-postload-first-memslot", kind="mutant",
         title="post-load: a migrated plugged range maps only its first memslot",
         edits=[dict(anchor="static int virtio_mem_activate_memslot_range_cb(", kind="stmt",
                     original="virtio_mem_activate_memslots_to_plug(vmem, offset, size);",
                     mutated="virtio_mem_activate_memslots_to_plug(vmem, offset, MIN(size, vmem->memslot_size));")]),
]
