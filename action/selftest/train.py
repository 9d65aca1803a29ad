"""Writes metrics.json like a training job would; SELFTEST_ACCURACY sets the accuracy."""

import json
import os

accuracy = float(os.environ.get("SELFTEST_ACCURACY", "0.90"))
with open("metrics.json", "w", encoding="utf-8") as fh:
    json.dump({"accuracy": accuracy}, fh)
print(f"selftest job: accuracy {accuracy}")
