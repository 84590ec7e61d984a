"""The OCR tasks a dataset holds and a run trains: ``rec`` (text in a crop) and ``det`` (text boxes
in a frame). The one definition that validation, synth, the spec and the CLI check against."""

TASKS = ("rec", "det")
