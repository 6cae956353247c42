"""Request and response bodies of the Camunda 7 REST subset (field names as in the Camunda reference).

The same schemas validate input at the edge and generate /engine-rest/openapi.json.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, INCLUDE, Schema, fields, validate

NULL = {"allow_none": True}
INT32 = validate.Range(min=-(2**31), max=2**31 - 1)
NON_NEGATIVE = validate.Range(min=0, max=2**31 - 1)
POSITIVE = validate.Range(min=1, max=2**31 - 1)


class Base(Schema):
    class Meta:
        unknown = EXCLUDE
        ordered = True


class VariableValue(Base):
    value = fields.Raw(allow_none=True, metadata={"description": "The value (Json values as JSON text)."})
    type = fields.String(allow_none=True, metadata={"example": "String"})
    valueInfo = fields.Dict(allow_none=True)


class VariableMap(Schema):
    """A map of variable name -> typed value ({"x": {"value": 1, "type": "Integer", "valueInfo": {}}})."""

    class Meta:
        unknown = INCLUDE

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        return obj


class VariablesQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    deserializeValues = fields.Boolean(load_default=True)


class FormVariablesQuery(VariablesQuery):
    variableNames = fields.String()


Variables = fields.Dict(keys=fields.String(), values=fields.Nested(VariableValue), load_default=dict, allow_none=True)


class ErrorBody(Base):
    """Camunda's ExceptionDto (AuthorizationExceptionDto adds userId and missingAuthorizations)."""

    type = fields.String(required=True)
    message = fields.String(required=True)
    code = fields.Integer()
    details = fields.Dict()
    userId = fields.String(allow_none=True)
    missingAuthorizations = fields.List(fields.Dict())


class Version(Base):
    version = fields.String()


class Paging(Base):
    firstResult = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10_000_000))
    maxResults = fields.Integer(load_default=100, validate=validate.Range(min=0, max=10_000))


class Sorting(Base):
    sortBy = fields.String()
    sortOrder = fields.String(validate=validate.OneOf(["asc", "desc"]))


class Count(Base):
    count = fields.Integer()


# --- deployments and definitions ---------------------------------------------------------------------------


class DeploymentQuery(Paging, Sorting):
    id = fields.String()
    name = fields.String()
    nameLike = fields.String()
    source = fields.String()
    tenantIdIn = fields.String()
    after = fields.String()
    before = fields.String()


class Deployment(Base):
    id = fields.String()
    name = fields.String(**NULL)
    source = fields.String(**NULL)
    tenantId = fields.String(**NULL)
    deploymentTime = fields.String()
    links = fields.List(fields.Dict())


class ProcessDefinition(Base):
    id = fields.String()
    key = fields.String()
    category = fields.String(**NULL)
    description = fields.String(**NULL)
    name = fields.String(**NULL)
    version = fields.Integer()
    resource = fields.String()
    deploymentId = fields.String()
    diagram = fields.String(**NULL)
    suspended = fields.Boolean()
    tenantId = fields.String(**NULL)
    versionTag = fields.String(**NULL)
    historyTimeToLive = fields.Integer(**NULL)
    startableInTasklist = fields.Boolean()


class DecisionDefinition(Base):
    id = fields.String()
    key = fields.String()
    category = fields.String(**NULL)
    name = fields.String(**NULL)
    version = fields.Integer()
    resource = fields.String()
    deploymentId = fields.String()
    tenantId = fields.String(**NULL)
    decisionRequirementsDefinitionId = fields.String(**NULL)
    decisionRequirementsDefinitionKey = fields.String(**NULL)
    historyTimeToLive = fields.Integer(**NULL)
    versionTag = fields.String(**NULL)


class DeploymentWithDefinitions(Deployment):
    deployedProcessDefinitions = fields.Dict(keys=fields.String(), values=fields.Nested(ProcessDefinition),
                                             **NULL)
    deployedDecisionDefinitions = fields.Dict(keys=fields.String(), values=fields.Nested(DecisionDefinition),
                                              **NULL)
    deployedCaseDefinitions = fields.Dict(**NULL)
    deployedDecisionRequirementsDefinitions = fields.Dict(**NULL)


class DeploymentCreateForm(Base):
    """The text parts of POST /deployment/create; every other part is a resource named by its file name."""

    deployment_name = fields.String(data_key="deployment-name")
    deployment_source = fields.String(data_key="deployment-source")
    enable_duplicate_filtering = fields.Boolean(data_key="enable-duplicate-filtering", load_default=False)
    deploy_changed_only = fields.Boolean(data_key="deploy-changed-only", load_default=False)
    tenant_id = fields.String(data_key="tenant-id")


class DeleteDeploymentQuery(Base):
    cascade = fields.Boolean(load_default=False)


class ProcessDefinitionQuery(Paging, Sorting):
    key = fields.String()
    keyLike = fields.String()
    name = fields.String()
    latestVersion = fields.Boolean()
    version = fields.Integer(validate=POSITIVE)
    deploymentId = fields.String()
    suspended = fields.Boolean()


class DecisionDefinitionQuery(Paging, Sorting):
    key = fields.String()
    keyLike = fields.String()
    name = fields.String()
    version = fields.Integer(validate=POSITIVE)
    latestVersion = fields.Boolean()
    deploymentId = fields.String()


class ProcessDefinitionXml(Base):
    id = fields.String()
    bpmn20Xml = fields.String()


class DecisionDefinitionXml(Base):
    id = fields.String()
    dmnXml = fields.String()


class StartInstance(Base):
    businessKey = fields.String(**NULL)
    variables = Variables
    withVariablesInReturn = fields.Boolean(load_default=False)


class Evaluate(Base):
    variables = Variables


# --- process instances ----------------------------------------------------------------------------------


class ProcessInstance(Base):
    id = fields.String()
    definitionId = fields.String()
    definitionKey = fields.String()
    businessKey = fields.String(**NULL)
    caseInstanceId = fields.String(**NULL)
    ended = fields.Boolean()
    suspended = fields.Boolean()
    tenantId = fields.String(**NULL)
    links = fields.List(fields.Dict())
    variables = fields.Dict(**NULL)


class ProcessInstanceQuery(Paging, Sorting):
    processInstanceIds = fields.String()
    businessKey = fields.String()
    businessKeyLike = fields.String()
    processDefinitionKey = fields.String()
    processDefinitionKeyIn = fields.String()
    processDefinitionId = fields.String()
    active = fields.Boolean()
    suspended = fields.Boolean()
    withIncident = fields.Boolean()
    superProcessInstance = fields.String()
    subProcessInstance = fields.String()


class Suspension(Base):
    suspended = fields.Boolean(required=True)


class VariableModifications(Base):
    modifications = Variables
    deletions = fields.List(fields.String(), load_default=list)


class DeleteInstanceQuery(Base):
    skipCustomListeners = fields.Boolean()
    skipIoMappings = fields.Boolean()
    skipSubprocesses = fields.Boolean()
    failIfNotExists = fields.Boolean(load_default=True)
    deleteReason = fields.String()


class ActivityInstance(Base):
    id = fields.String()
    parentActivityInstanceId = fields.String(**NULL)
    activityId = fields.String()
    activityType = fields.String()
    processInstanceId = fields.String()
    processDefinitionId = fields.String()
    childActivityInstances = fields.List(fields.Dict())
    childTransitionInstances = fields.List(fields.Dict())
    executionIds = fields.List(fields.String())
    activityName = fields.String(**NULL)
    name = fields.String(**NULL)
    incidentIds = fields.List(fields.String())
    incidents = fields.List(fields.Dict())


# --- tasks ---------------------------------------------------------------------------------------------


class Task(Base):
    id = fields.String()
    name = fields.String(**NULL)
    assignee = fields.String(**NULL)
    owner = fields.String(**NULL)
    created = fields.String()
    lastUpdated = fields.String(**NULL)
    due = fields.String(**NULL)
    followUp = fields.String(**NULL)
    delegationState = fields.String(**NULL)
    description = fields.String(**NULL)
    executionId = fields.String()
    parentTaskId = fields.String(**NULL)
    priority = fields.Integer()
    processDefinitionId = fields.String()
    processInstanceId = fields.String()
    caseExecutionId = fields.String(**NULL)
    caseDefinitionId = fields.String(**NULL)
    caseInstanceId = fields.String(**NULL)
    taskDefinitionKey = fields.String()
    suspended = fields.Boolean()
    formKey = fields.String(**NULL)
    camundaFormRef = fields.Dict(**NULL)
    tenantId = fields.String(**NULL)
    taskState = fields.String(**NULL)


class TaskQuery(Paging, Sorting):
    assignee = fields.String()
    assigned = fields.Boolean()
    unassigned = fields.Boolean()
    candidateUser = fields.String()
    candidateGroup = fields.String()
    candidateGroups = fields.String()
    includeAssignedTasks = fields.Boolean()
    processInstanceId = fields.String()
    processInstanceBusinessKey = fields.String()
    processInstanceBusinessKeyLike = fields.String()
    processDefinitionKey = fields.String()
    processDefinitionId = fields.String()
    taskDefinitionKey = fields.String()
    nameLike = fields.String()
    followUpBeforeOrNotExistent = fields.String()
    followUpAfter = fields.String()
    dueBefore = fields.String()
    dueAfter = fields.String()


class UserIdBody(Base):
    userId = fields.String(required=True, allow_none=True)


class CompleteTask(Base):
    variables = Variables
    withVariablesInReturn = fields.Boolean(load_default=False)


class Comment(Base):
    id = fields.String()
    userId = fields.String(**NULL)
    taskId = fields.String(**NULL)
    processInstanceId = fields.String(**NULL)
    time = fields.String()
    message = fields.String()
    removalTime = fields.String(**NULL)
    rootProcessInstanceId = fields.String(**NULL)
    links = fields.List(fields.Dict())


class NewComment(Base):
    message = fields.String(required=True, validate=validate.Length(min=1, max=4000))


# --- messages and external tasks ------------------------------------------------------------------------


class CorrelateMessage(Base):
    messageName = fields.String(required=True)
    businessKey = fields.String(**NULL)
    tenantId = fields.String(**NULL)
    correlationKeys = Variables
    localCorrelationKeys = Variables
    processVariables = Variables
    processVariablesLocal = Variables
    all = fields.Boolean(load_default=False)
    resultEnabled = fields.Boolean(load_default=False)
    variablesInResultEnabled = fields.Boolean(load_default=False)
    processInstanceId = fields.String(**NULL)


class CorrelationResult(Base):
    resultType = fields.String()
    execution = fields.Dict(**NULL)
    processInstance = fields.Dict(**NULL)
    variables = fields.Dict(**NULL)


class FetchTopic(Base):
    topicName = fields.String(required=True)
    lockDuration = fields.Integer(required=True, validate=POSITIVE)
    variables = fields.List(fields.String(), allow_none=True)
    businessKey = fields.String(**NULL)
    processDefinitionKey = fields.String(**NULL)
    deserializeValues = fields.Boolean()
    localVariables = fields.Boolean()


class FetchAndLock(Base):
    workerId = fields.String(required=True, validate=validate.Length(min=1, max=255))
    maxTasks = fields.Integer(load_default=10, validate=validate.Range(min=0, max=1000))
    usePriority = fields.Boolean(load_default=False)
    asyncResponseTimeout = fields.Integer(allow_none=True, validate=validate.Range(min=0, max=1_800_000))
    topics = fields.List(fields.Nested(FetchTopic), load_default=list)


class ExternalTask(Base):
    id = fields.String()
    activityId = fields.String()
    activityInstanceId = fields.String()
    errorMessage = fields.String(**NULL)
    errorDetails = fields.String(**NULL)
    executionId = fields.String()
    lockExpirationTime = fields.String(**NULL)
    processDefinitionId = fields.String()
    processDefinitionKey = fields.String()
    processInstanceId = fields.String()
    retries = fields.Integer(**NULL)
    suspended = fields.Boolean()
    workerId = fields.String(**NULL)
    topicName = fields.String()
    tenantId = fields.String(**NULL)
    priority = fields.Integer()
    businessKey = fields.String(**NULL)
    variables = fields.Dict(**NULL)
    extensionProperties = fields.Dict(**NULL)
    createTime = fields.String(**NULL)
    processDefinitionVersionTag = fields.String(**NULL)


class ExternalTaskQuery(Paging, Sorting):
    externalTaskId = fields.String()
    topicName = fields.String()
    workerId = fields.String()
    activityId = fields.String()
    activityIdIn = fields.String()
    executionId = fields.String()
    processInstanceId = fields.String()
    processInstanceIdIn = fields.String()
    processDefinitionId = fields.String()
    locked = fields.Boolean()
    notLocked = fields.Boolean()
    noRetriesLeft = fields.Boolean()
    withRetriesLeft = fields.Boolean()
    active = fields.Boolean()
    suspended = fields.Boolean()
    priorityHigherThanOrEquals = fields.Integer()
    priorityLowerThanOrEquals = fields.Integer()


class CompleteExternalTask(Base):
    workerId = fields.String(required=True)
    variables = Variables
    localVariables = Variables


class ExternalTaskFailure(Base):
    workerId = fields.String(required=True)
    errorMessage = fields.String(**NULL)
    errorDetails = fields.String(**NULL)
    retries = fields.Integer(allow_none=True, validate=NON_NEGATIVE)
    retryTimeout = fields.Integer(load_default=0, validate=NON_NEGATIVE)


class ExternalTaskBpmnError(Base):
    workerId = fields.String(required=True)
    errorCode = fields.String(required=True)
    errorMessage = fields.String(**NULL)
    variables = Variables


class ExtendLock(Base):
    workerId = fields.String(required=True)
    newDuration = fields.Integer(required=True, validate=POSITIVE)


class Retries(Base):
    retries = fields.Integer(required=True, validate=NON_NEGATIVE)


# --- history and incidents ------------------------------------------------------------------------------


class HistoricProcessInstance(Base):
    id = fields.String()
    rootProcessInstanceId = fields.String(**NULL)
    superProcessInstanceId = fields.String(**NULL)
    superCaseInstanceId = fields.String(**NULL)
    caseInstanceId = fields.String(**NULL)
    processDefinitionName = fields.String(**NULL)
    processDefinitionKey = fields.String()
    processDefinitionVersion = fields.Integer(**NULL)
    processDefinitionId = fields.String()
    businessKey = fields.String(**NULL)
    startTime = fields.String()
    endTime = fields.String(**NULL)
    removalTime = fields.String(**NULL)
    durationInMillis = fields.Integer(**NULL)
    startUserId = fields.String(**NULL)
    startActivityId = fields.String(**NULL)
    deleteReason = fields.String(**NULL)
    tenantId = fields.String(**NULL)
    state = fields.String(metadata={"enum": ["ACTIVE", "SUSPENDED", "COMPLETED", "EXTERNALLY_TERMINATED",
                                             "INTERNALLY_TERMINATED"]})
    restartedProcessInstanceId = fields.String(**NULL)


class HistoricProcessInstanceQuery(Paging, Sorting):
    processInstanceId = fields.String()
    processInstanceIds = fields.String()
    processInstanceBusinessKey = fields.String()
    processInstanceBusinessKeyLike = fields.String()
    processDefinitionId = fields.String()
    processDefinitionKey = fields.String()
    superProcessInstanceId = fields.String()
    startedBy = fields.String()
    startedBefore = fields.String()
    startedAfter = fields.String()
    finishedBefore = fields.String()
    finishedAfter = fields.String()
    finished = fields.Boolean()
    unfinished = fields.Boolean()
    withIncidents = fields.Boolean()
    active = fields.Boolean()
    suspended = fields.Boolean()
    state = fields.String()


class HistoricActivityInstance(Base):
    id = fields.String()
    parentActivityInstanceId = fields.String(**NULL)
    activityId = fields.String()
    activityName = fields.String(**NULL)
    activityType = fields.String(**NULL)
    processDefinitionKey = fields.String(**NULL)
    processDefinitionId = fields.String(**NULL)
    processInstanceId = fields.String(**NULL)
    executionId = fields.String(**NULL)
    taskId = fields.String(**NULL)
    assignee = fields.String(**NULL)
    calledProcessInstanceId = fields.String(**NULL)
    calledCaseInstanceId = fields.String(**NULL)
    startTime = fields.String(**NULL)
    endTime = fields.String(**NULL)
    durationInMillis = fields.Integer(**NULL)
    canceled = fields.Boolean()
    completeScope = fields.Boolean()
    tenantId = fields.String(**NULL)
    removalTime = fields.String(**NULL)
    rootProcessInstanceId = fields.String(**NULL)


class HistoricActivityQuery(Paging, Sorting):
    processInstanceId = fields.String()
    processDefinitionKey = fields.String()
    activityId = fields.String()
    activityType = fields.String()
    taskAssignee = fields.String()
    finished = fields.Boolean()
    unfinished = fields.Boolean()
    canceled = fields.Boolean()
    completeScope = fields.Boolean()


class HistoricTask(Base):
    id = fields.String()
    processDefinitionKey = fields.String(**NULL)
    processDefinitionId = fields.String(**NULL)
    processInstanceId = fields.String(**NULL)
    executionId = fields.String(**NULL)
    caseDefinitionKey = fields.String(**NULL)
    caseDefinitionId = fields.String(**NULL)
    caseInstanceId = fields.String(**NULL)
    caseExecutionId = fields.String(**NULL)
    activityInstanceId = fields.String(**NULL)
    name = fields.String(**NULL)
    description = fields.String(**NULL)
    deleteReason = fields.String(**NULL)
    owner = fields.String(**NULL)
    assignee = fields.String(**NULL)
    startTime = fields.String(**NULL)
    endTime = fields.String(**NULL)
    duration = fields.Integer(**NULL)
    taskDefinitionKey = fields.String(**NULL)
    priority = fields.Integer(**NULL)
    due = fields.String(**NULL)
    parentTaskId = fields.String(**NULL)
    followUp = fields.String(**NULL)
    tenantId = fields.String(**NULL)
    removalTime = fields.String(**NULL)
    rootProcessInstanceId = fields.String(**NULL)
    taskState = fields.String(**NULL)


class HistoricTaskQuery(Paging):
    taskId = fields.String()
    processInstanceId = fields.String()
    processDefinitionKey = fields.String()
    taskDefinitionKey = fields.String()
    taskAssignee = fields.String()
    finished = fields.Boolean()
    unfinished = fields.Boolean()


class Incident(Base):
    id = fields.String()
    processDefinitionId = fields.String()
    processInstanceId = fields.String()
    executionId = fields.String(**NULL)
    incidentTimestamp = fields.String()
    incidentType = fields.String()
    activityId = fields.String(**NULL)
    failedActivityId = fields.String(**NULL)
    causeIncidentId = fields.String()
    rootCauseIncidentId = fields.String()
    configuration = fields.String(**NULL)
    incidentMessage = fields.String(**NULL)
    tenantId = fields.String(**NULL)
    jobDefinitionId = fields.String(**NULL)
    annotation = fields.String(**NULL)


class IncidentQuery(Paging, Sorting):
    incidentId = fields.String()
    incidentType = fields.String()
    incidentMessageLike = fields.String()
    processDefinitionId = fields.String()
    processDefinitionKeyIn = fields.String()
    processInstanceId = fields.String()
    executionId = fields.String()
    activityId = fields.String()
    failedActivityId = fields.String()
