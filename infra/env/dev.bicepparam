// dev environment: az deployment group create -g rg-csync-dev -f infra/main.bicep -p infra/env/dev.bicepparam
// Secrets are read from the deploying shell (never stored here), e.g.
//   export IONAPI_ACME_M3="$(cat ~/secrets/acme-m3-dev.ionapi)"
using '../main.bicep'

param environmentName = 'dev'
param storageSkuName = 'Standard_LRS'
param instanceMemoryMB = 2048
param maximumInstanceCount = 40
param pollIntervalMinutes = 15
param replaySchedule = '0 0 * * * *'
param replayMaxAttempts = 3
param logRetentionDays = 30
param failureRatioPercent = 10
param failureRatioMinRecords = 20
param alertEmailAddresses = []

// The connections document (shared/schemas/connections.schema.json): names secrets, never holds them.
param syncConnections = {
  connections: [
    {
      name: 'acme-m3'
      entities: [
        'supplier'
        'customer'
      ]
      cloudsuite: {
        product: 'm3'
        ionapi_secret: 'ionapi-acme-m3'
      }
      dataverse: {
        url: 'https://contoso-dev.crm4.dynamics.com'
        auth: 'managed_identity'
      }
    }
  ]
}

// One entry per secret named above: Key Vault secret name -> value (the whole .ionapi file).
param connectionSecrets = {
  'ionapi-acme-m3': readEnvironmentVariable('IONAPI_ACME_M3')
}
