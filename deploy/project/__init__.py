"""The project: its settings file (`project`) and how a new one starts (`init`)."""
