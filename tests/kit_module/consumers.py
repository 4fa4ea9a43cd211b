from tenants.consumers import WorkspaceConsumer
from tests.kit_module.module import VIEW_NOTES


class NotesConsumer(WorkspaceConsumer):
    capability = VIEW_NOTES

    async def connect(self) -> None:
        await self.accept()
