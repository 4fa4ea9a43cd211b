from tests.sales.conftest import in_alpha

__all__ = ["in_alpha"]
