#!/usr/bin/env bash
# Translation catalog maintenance (Flask-Babel, Vietnamese catalog in service/translations/vi).
#   scripts/i18n.sh extract   # sources -> service/translations/messages.pot
#   scripts/i18n.sh update    # .pot -> service/translations/vi/LC_MESSAGES/messages.po
#   scripts/i18n.sh compile   # .po -> .mo (what the app loads)
#   scripts/i18n.sh           # all three, in that order
set -euo pipefail
cd "$(dirname "$0")/.."

PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
[ -x "$PYBABEL" ] || PYBABEL=pybabel
DIR=service/translations
POT="$DIR/messages.pot"
LOCALE=vi
PO="$DIR/$LOCALE/LC_MESSAGES/messages.po"

extract() {
  mkdir -p "$DIR"
  # babel.cfg patterns are relative to the directory scanned, and all start with "service/", so
  # only the service package is extracted. Babel's default directory filter never descends into
  # dot or underscore directories (.venv, .git, __pycache__).
  "$PYBABEL" extract -F babel.cfg -k _l -k lazy_gettext \
    --project=PAKN --copyright-holder=PAKN \
    --sort-by-file --width=100 -o "$POT" .
}

update() {
  if [ ! -f "$PO" ]; then
    "$PYBABEL" init -i "$POT" -d "$DIR" -l "$LOCALE" --width=100
  else
    "$PYBABEL" update -i "$POT" -d "$DIR" -l "$LOCALE" --no-fuzzy-matching --ignore-obsolete --width=100
  fi
}

compile() {
  "$PYBABEL" compile -d "$DIR" --statistics
}

case "${1:-all}" in
  extract) extract ;;
  update) update ;;
  compile) compile ;;
  all) extract; update; compile ;;
  *) echo "usage: $0 [extract|update|compile]" >&2; exit 2 ;;
esac
