"""The model catalog: data loaded from models.toml, checked once at start-up."""
from server.catalog.loader import CatalogError, load_catalog
from server.catalog.model import (
    Catalog,
    CustomSizes,
    Deployment,
    ModelSpec,
)

__all__ = ["Catalog", "CatalogError", "CustomSizes", "Deployment", "ModelSpec", "load_catalog"]
