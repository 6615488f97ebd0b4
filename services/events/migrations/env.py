from services.events.models import Base
from shared.migrations_env import run

run(Base.metadata, "events")
