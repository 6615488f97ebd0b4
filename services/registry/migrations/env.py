from services.registry.models import Base
from shared.migrations_env import run

run(Base.metadata, "registry")
