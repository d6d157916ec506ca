"""The netx exporter's refusal."""
from snncompile.errors import SnnCompileError


class NetxRefusal(SnnCompileError):
    """The network is not a chain that netx can build, or cannot be stated in its registers."""
