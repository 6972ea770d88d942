#!/usr/bin/env bash
# Run inside the image: fails (exit 1) naming anything the image should not carry, or a missing executable.
set -u
found=0
for path in /root/.cache/pip /root/.aws /root/.docker /opt/program/tests /opt/program/data /tmp/requirements.txt; do
  if [ -e "$path" ]; then echo "present: $path"; found=1; fi
done
if [ -n "$(find /var/lib/apt/lists -type f ! -name lock 2>/dev/null)" ]; then
  echo "present: apt package lists"; found=1
fi
unexpected=$(find / -xdev \( -name '*.csv' -o -name '.git' -o -name 'id_rsa' -o -name '*.pem' \) \
  -not -path '/proc/*' -not -path '/usr/share/*' -not -path '/etc/ssl/*' -not -path '/usr/lib/ssl/*' \
  -not -path '/opt/venv/*' 2>/dev/null)
if [ -n "$unexpected" ]; then echo "present: $unexpected"; found=1; fi
for program in train serve evaluate drift nginx; do
  command -v "$program" >/dev/null || { echo "missing: $program on PATH"; found=1; }
done
exit "$found"
