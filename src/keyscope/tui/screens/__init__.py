"""The screens of the keyscope TUI: keys, key detail, spec, help and dialogs."""
