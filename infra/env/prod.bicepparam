// prod environment: az deployment group create -g rg-csync-prod -f infra/main.bicep -p infra/env/prod.bicepparam
// Secrets are read from the deploying shell (never stored here), e.g.
//   export IONAPI_ACME_M3="$(cat ~/secrets/acme-m3-prod.ionapi)"
//   export DATAVERSE_SECRET_ACME_LN="..."   (only for a connection on the client-secret path)
using '../main.bicep'

param environmentName = 'prod'
param storageSkuName = 'Standard_ZRS'
param instanceMemoryMB = 2048
param maximumInstanceCount = 40
param pollIntervalMinutes = 15
param replaySchedule = '0 0 * * * *'
param replayMaxAttempts = 3
param logRetentionDays = 90
param failureRatioPercent = 5
param failureRatioMinRecords = 20
param alertEmailAddresses = [
  'cloudsuite-sync-ops@example.com'
]

// The connections document (shared/schemas/connections.schema.json): names secrets, never holds them.
// acme-m3 uses the default Dataverse path (the app's managed identity is an application user);
// acme-ln shows the alternative client-secret path (secret in Key Vault, named by client_secret_name).
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
        url: 'https://contoso.crm4.dynamics.com'
        auth: 'managed_identity'
      }
    }
    {
      name: 'acme-ln'
      entities: [
        'supplier'
      ]
      cloudsuite: {
        product: 'ln'
        ionapi_secret: 'ionapi-acme-ln'
      }
      dataverse: {
        url: 'https://contoso.crm4.dynamics.com'
        auth: 'client_secret'
        tenant_id: '00000000-0000-0000-0000-000000000000'
        client_id: '11111111-1111-1111-1111-111111111111'
        client_secret_name: 'dataverse-secret-acme-ln'
      }
    }
  ]
}

// One entry per secret named above: Key Vault secret name -> value.
param connectionSecrets = {
  'ionapi-acme-m3': readEnvironmentVariable('IONAPI_ACME_M3')
  'ionapi-acme-ln': readEnvironmentVariable('IONAPI_ACME_LN')
  'dataverse-secret-acme-ln': readEnvironmentVariable('DATAVERSE_SECRET_ACME_LN')
}
