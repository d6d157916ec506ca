"""``python -m snncompile``: the same CLI; the current directory is taken off ``sys.path`` first."""
from snncompile.importpath import drop_working_directory

drop_working_directory()

from snncompile.cli import main  # noqa: E402 - after the path is made safe

main()
