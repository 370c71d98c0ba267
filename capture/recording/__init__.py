"""Recording: the Recorder (the controller every client drives), crash-safe sessions, video on
the audio clock, and how outputs are named and written (targets, atomic)."""
