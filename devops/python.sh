# Sourced by the devops scripts (not run): repo_python ROOT prints the interpreter to use,
# $PYTHON when set, else ROOT/.venv/bin/python when it exists, else python3.
repo_python() {
    if [[ -n "${PYTHON:-}" ]]; then
        echo "$PYTHON"
    elif [[ -x "$1/.venv/bin/python" ]]; then
        echo "$1/.venv/bin/python"
    else
        echo python3
    fi
}
