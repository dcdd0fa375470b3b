#!/usr/bin/env bash
# dtrain's readers against files written by h5py and by Python protobuf + crc32c, and dtrain's
# converter output read back by that independent code (check_independent.py says how).
. "$(dirname "$0")/lib.sh"
"$PY" "$HERE/check_independent.py" --setup "$SETUP" --mnist "$MNIST"
