"""The recent past: the replay ring, the note detector and catch planner, and the note service
that feeds them from the Recorder and saves what they find."""
