// Log-search alert rules over the app's key=value log lines (docs/telemetry.md, runbook: docs/operations.md).
// The queries live in infra/monitoring/queries/*.kql; a test checks every field they read is one the app logs.
param namePrefix string
param location string
param tags object
param appInsightsId string

@description('Poll interval in minutes (the one POLL_SCHEDULE uses): "no successful poll for 3 intervals".')
param pollIntervalMinutes int

@description('Alert when more than this percentage of the records sent to Dataverse in an hour failed.')
param failureRatioPercent int

@description('...but only when at least this many records were attempted in that hour.')
param failureRatioMinRecords int

@description('E-mail addresses notified by the alerts (an action group is created when not empty).')
param alertEmailAddresses array

var hasReceivers = !empty(alertEmailAddresses)

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (hasReceivers) {
  name: '${namePrefix}-alerts'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'csync'
    enabled: true
    emailReceivers: [for (address, i) in alertEmailAddresses: {
      name: 'email-${i}'
      emailAddress: address
      useCommonAlertSchema: true
    }]
  }
}

var actionGroupIds = hasReceivers ? [
  actionGroup.id
] : []

var depthQuery = loadTextContent('../monitoring/queries/alert-deadletter-depth.kql')
// The .kql files run as they are in Log Analytics; these replace their default "let" lines with the parameters.
var noPollTemplate = loadTextContent('../monitoring/queries/alert-no-successful-poll.kql')
var noPollQuery = replace(noPollTemplate, 'let pollInterval = 15m;', 'let pollInterval = ${pollIntervalMinutes}m;')
var failureTemplate = loadTextContent('../monitoring/queries/alert-failure-ratio.kql')
var failureWithRatio = replace(failureTemplate, 'let maxFailurePercent = 5.0;', 'let maxFailurePercent = ${failureRatioPercent}.0;')
var failureQuery = replace(failureWithRatio, 'let minRecords = 20;', 'let minRecords = ${failureRatioMinRecords};')

resource deadletterDepth 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: '${namePrefix}-deadletter-depth'
  location: location
  tags: tags
  properties: {
    displayName: 'cloudsuite-sync: poison queue or dead-letter table not empty for 15 min'
    description: 'Runbook: docs/operations.md#alert-poison-or-dead-letter-depth'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT6H'
    criteria: {
      allOf: [
        {
          query: depthQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'target'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

resource noSuccessfulPoll 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: '${namePrefix}-no-successful-poll'
  location: location
  tags: tags
  properties: {
    displayName: 'cloudsuite-sync: no successful poll for 3 intervals'
    description: 'Runbook: docs/operations.md#alert-no-successful-poll'
    severity: 1
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT6H'
    criteria: {
      allOf: [
        {
          query: noPollQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'connection'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'entity'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

resource failureRatio 'Microsoft.Insights/scheduledQueryRules@2022-06-15' = {
  name: '${namePrefix}-failure-ratio'
  location: location
  tags: tags
  properties: {
    displayName: 'cloudsuite-sync: write failure ratio above ${failureRatioPercent}%'
    description: 'Runbook: docs/operations.md#alert-failure-ratio'
    severity: 2
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: failureQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'connection'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'entity'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

output ruleIds array = [
  deadletterDepth.id
  noSuccessfulPoll.id
  failureRatio.id
]
