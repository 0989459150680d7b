#!/usr/bin/env python3
"""Lists the public declarations of the library modules that have no `///` doc comment.

Reads the symbol graphs the compiler emits (`swift package dump-symbol-graph`), so it sees what
DocC sees: members of public extensions, enum cases, operators and initializers alike. A
declaration that implements a protocol requirement inherits that requirement's comment and
counts as documented. Prints one `file:line: kind name` line per undocumented declaration and
exits 1 when there is any.

    python3 scripts/undocumented.py                 # dumps the symbol graphs, then checks
    python3 scripts/undocumented.py --no-dump DIR   # checks symbol graphs already in DIR
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

MODULES = ("AutoDiff", "NN", "GradCheck", "Distributed")


def symbol_graph_folder(package):
    output = subprocess.run(
        ["swift", "package", "dump-symbol-graph", "--minimum-access-level", "public"],
        cwd=package, check=True, capture_output=True, text=True).stdout
    match = re.search(r"Files written to (\S+)", output)
    if not match:
        sys.exit("undocumented.py: swift package dump-symbol-graph did not say where it wrote: " + output[-500:])
    return match.group(1)


def undocumented(folder, package):
    found, total = [], 0
    for path in sorted(glob.glob(os.path.join(folder, "*.symbols.json"))):
        module = os.path.basename(path).split(".")[0].split("@")[0]
        if module not in MODULES:
            continue
        with open(path) as file:
            graph = json.load(file)
        for symbol in graph["symbols"]:
            location = symbol.get("location")
            if not location or not location["uri"].startswith("file://" + package + "/"):
                continue  # declared by the standard library or a dependency
            total += 1
            if not symbol.get("docComment"):
                found.append((location["uri"][len("file://" + package + "/"):],
                               location["position"]["line"] + 1,
                               symbol["kind"]["displayName"],
                               ".".join(symbol["pathComponents"])))
    return sorted(set(found)), total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-dump", metavar="DIR", help="read symbol graphs from DIR instead of dumping them")
    arguments = parser.parse_args()
    package = os.path.realpath(os.path.join(os.path.dirname(__file__), ".."))
    folder = arguments.no_dump or symbol_graph_folder(package)
    found, total = undocumented(folder, package)
    for file, line, kind, name in found:
        print(f"{file}:{line}: {kind} {name}")
    print(f"{total - len(found)} of {total} public declarations in {', '.join(MODULES)} documented")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
