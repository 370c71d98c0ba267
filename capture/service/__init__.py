"""The running instance: one Recorder always listening, its control socket and global hotkeys."""
