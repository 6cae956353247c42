"""SpiffWorkflow, wrapped once: parser, specs, serializer, compaction, runner. The rest of kimflow uses these
modules and the two opaque handles below, never SpiffWorkflow itself."""

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow as EngineWorkflow
from SpiffWorkflow.task import Task as EngineTask

__all__ = ["EngineTask", "EngineWorkflow"]
