// Flex Consumption (FC1) plan and the Python 3.11 function app, with every app setting shared/config.py reads.
// Flex takes the runtime from functionAppConfig: FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION,
// WEBSITE_RUN_FROM_PACKAGE, WEBSITE_CONTENTSHARE, SCM_DO_BUILD_DURING_DEPLOYMENT and ENABLE_ORYX_BUILD must not be
// set (a test fails if they are). Settings shared/config.py knows but Azure does not need are listed in
// docs/deploy.md ("App settings").
param planName string
param appName string
param location string
param tags object
param identityId string
param identityClientId string
param deploymentContainerUrl string
param blobEndpoint string
param queueEndpoint string
param tableEndpoint string
param keyVaultUri string
param appInsightsConnectionString string

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

param pollSchedule string
param replaySchedule string
param replayMaxAttempts int

@description('The connections document (shared/schemas/connections.schema.json); it names secrets, never holds them.')
param syncConnections object

param allowBasicPublishingCredentials bool

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: appName
  location: location
  tags: union(tags, {
    'azd-service-name': 'app'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }

  resource appSettings 'config' = {
    name: 'appsettings'
    properties: {
      // Host storage and the pipeline's queues/tables/blobs, identity-based (shared keys are disabled).
      AzureWebJobsStorage__blobServiceUri: blobEndpoint
      AzureWebJobsStorage__queueServiceUri: queueEndpoint
      AzureWebJobsStorage__tableServiceUri: tableEndpoint
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identityClientId
      // DefaultAzureCredential / ManagedIdentityCredential in shared/ pick the user-assigned identity from this.
      AZURE_CLIENT_ID: identityClientId
      // Entra-authenticated telemetry (App Insights has local auth disabled).
      APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
      POLL_SCHEDULE: pollSchedule
      REPLAY_SCHEDULE: replaySchedule
      REPLAY_MAX_ATTEMPTS: string(replayMaxAttempts)
      SYNC_CONNECTIONS: string(syncConnections)
      KEY_VAULT_URI: keyVaultUri
    }
  }
}

// FTP and SCM basic-auth publishing off: deployments authenticate with Entra ID (az/func/azd/functions-action).
resource ftpPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: allowBasicPublishingCredentials
  }
}

output id string = app.id
output name string = app.name
output defaultHostName string = app.properties.defaultHostName
