// cloudsuite-sync on Azure Functions Flex Consumption: one resource group per environment.
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/env/dev.bicepparam     (docs/deploy.md)
// Plain resources only (no registry modules), so tree-sitter-bicep and checkov can check it offline
// (infra/validate.py); avoid syntax pycep-parser 0.5.1 cannot parse (typed arrays, user types, imports, `?`).
targetScope = 'resourceGroup'

@description('Environment name (dev, prod, ...): part of resource names and of the name hash.')
@minLength(2)
@maxLength(12)
param environmentName string

@description('Azure region of every resource (Flex Consumption must be available there).')
param location string = resourceGroup().location

@description('Short prefix of resource names.')
@minLength(2)
@maxLength(10)
param namePrefix string = 'csync'

@description('Flex Consumption instance memory (MB).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Flex Consumption scale-out limit for the whole app (the Dataverse writer also caps itself: host.json).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Storage redundancy of the app account (queues, tables, payload blobs).')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param storageSkuName string = 'Standard_ZRS'

@description('Minutes between polls: POLL_SCHEDULE becomes "0 */<n> * * * *" and the no-poll alert waits 3 intervals.')
@allowed([
  5
  10
  15
  20
  30
  60
])
param pollIntervalMinutes int = 15

@description('REPLAY_SCHEDULE: NCRONTAB (6 fields, UTC) of the poison-queue drain; keep it at most 5 hours apart (depth alert lookback).')
param replaySchedule string = '0 0 * * * *'

@description('REPLAY_MAX_ATTEMPTS: replays of one message before it is parked for a person.')
@minValue(1)
param replayMaxAttempts int = 3

@description('SYNC_CONNECTIONS: the connections document (shared/schemas/connections.schema.json). It names Key Vault secrets, never holds them.')
param syncConnections object

@description('Per-connection secrets, { "<Key Vault secret name>": "<value>" }: each .ionapi file (whole file) under its cloudsuite.ionapi_secret name; on the client-secret path also dataverse.client_secret_name. Never commit values: see infra/env/*.bicepparam.')
@secure()
param connectionSecrets object

@description('Days Log Analytics / Application Insights keep telemetry.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

@description('Failure-ratio alert: percent of records rejected by Dataverse in an hour.')
@minValue(1)
@maxValue(100)
param failureRatioPercent int = 5

@description('Failure-ratio alert: minimum records attempted in the hour before the ratio counts.')
@minValue(1)
param failureRatioMinRecords int = 20

@description('E-mail addresses notified by the alerts; empty: rules without an action group (wire your own).')
param alertEmailAddresses array = []

@description('Allow SCM basic-auth publishing (only for deploy tools that cannot use Entra ID). FTP stays off.')
param allowBasicPublishingCredentials bool = false

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var baseName = '${namePrefix}-${environmentName}'
var tags = {
  'azd-env-name': environmentName
  application: 'cloudsuite-sync'
}
var deploymentContainerName = 'app-package'

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: 'id-${baseName}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    skuName: storageSkuName
    deploymentContainerName: deploymentContainerName
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    secrets: connectionSecrets
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-${baseName}'
    appInsightsName: 'appi-${baseName}'
    location: location
    tags: tags
    retentionInDays: logRetentionDays
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    planName: 'plan-${baseName}'
    appName: 'func-${namePrefix}-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    keyVaultUri: keyVault.outputs.uri
    appInsightsConnectionString: monitoring.outputs.connectionString
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    pollSchedule: '0 */${pollIntervalMinutes} * * * *'
    replaySchedule: replaySchedule
    replayMaxAttempts: replayMaxAttempts
    syncConnections: syncConnections
    allowBasicPublishingCredentials: allowBasicPublishingCredentials
  }
  // The host needs its storage, vault and telemetry roles before its first start.
  dependsOn: [
    rbac
  ]
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    namePrefix: baseName
    location: location
    tags: tags
    appInsightsId: monitoring.outputs.appInsightsId
    pollIntervalMinutes: pollIntervalMinutes
    failureRatioPercent: failureRatioPercent
    failureRatioMinRecords: failureRatioMinRecords
    alertEmailAddresses: alertEmailAddresses
  }
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  params: {
    workbookId: guid(resourceGroup().id, 'cloudsuite-sync-workbook', environmentName)
    displayName: 'cloudsuite-sync (${environmentName})'
    location: location
    tags: tags
    appInsightsId: monitoring.outputs.appInsightsId
  }
}

// Upper-case outputs become azd environment values (azd env get-values).
output AZURE_LOCATION string = location
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_HOST string = functionApp.outputs.defaultHostName
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_URI string = keyVault.outputs.uri
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.appInsightsName
