import { describe, expect, it } from 'vitest';
import { logicalId, roleStatements, synth } from './support.js';

const { stack, json, template } = synth();

describe('dead-letter queues', () => {
  const queues = [stack.jobDlq, stack.startDlq, stack.eventsDlq, stack.stepDlq, stack.webhooks.dlq];

  it.each(queues.map((q) => [q.node.id, q] as const))(
    '%s is encrypted, kept 14 days and TLS-only',
    (_id, dlq) => {
      const id = logicalId(dlq.queue);
      expect(json.Resources[id]!.Properties).toMatchObject({
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: 1_209_600,
      });
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: [
            {
              Effect: 'Deny',
              Action: 'sqs:*',
              Principal: { AWS: '*' },
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
          ],
        },
      });
    },
  );

  it.each(queues.map((q) => [q.node.id, q] as const))(
    '%s alarms as soon as one message is visible',
    (_id, dlq) => {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(dlq.queue), 'QueueName'] } }],
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        TreatMissingData: 'notBreaching',
      });
    },
  );
});

/** The one event source mapping that feeds `fn`. */
function mappingOf(fn: Parameters<typeof logicalId>[0]) {
  const all = Object.values(json.Resources)
    .filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping')
    .filter((r) => JSON.stringify(r.Properties.FunctionName) === JSON.stringify({ Ref: logicalId(fn) }));
  expect(all).toHaveLength(1);
  return all[0]!.Properties;
}

const filtersOf = (props: Record<string, unknown>) =>
  (props.FilterCriteria as { Filters: { Pattern: string }[] }).Filters.map((f) => JSON.parse(f.Pattern));

const jobItem = { Keys: { SK: { S: ['JOB'] } } };

describe('table stream readers', () => {
  it('are exactly two, the most DynamoDB Streams serves per shard: control-executions and append-events', () => {
    const streamReaders = Object.values(json.Resources).filter(
      (r) =>
        r.Type === 'AWS::Lambda::EventSourceMapping' &&
        JSON.stringify(r.Properties.EventSourceArn).includes('StreamArn'),
    );
    expect(streamReaders.map((r) => r.Properties.FunctionName)).toEqual([
      { Ref: logicalId(stack.streamConsumer.handler.function) },
      { Ref: logicalId(stack.eventsConsumer.handler.function) },
    ]);
  });
});

describe('job stream consumer', () => {
  const mapping = () => mappingOf(stack.streamConsumer.handler.function);

  it('reads the table stream from the start in batches of 100 with bisecting, partial batch failures and a bounded retry', () => {
    expect(mapping()).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': [logicalId(stack.jobs.table), 'StreamArn'] },
      FunctionName: { Ref: logicalId(stack.streamConsumer.handler.function) },
      StartingPosition: 'TRIM_HORIZON',
      // A tenant's records in a batch share one admission pass: fewer passes under a flood.
      BatchSize: 100,
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 8,
      MaximumRecordAgeInSeconds: 3600,
    });
  });

  it('sends exhausted batches to the start DLQ', () => {
    expect(mapping().DestinationConfig).toEqual({
      OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(stack.startDlq.queue), 'Arn'] } },
    });
  });

  it('wakes only for new job items, job items written as pending (replaced) or cancelled, jobs ending, and answers', () => {
    expect(filtersOf(mapping())).toEqual([
      { eventName: ['INSERT'], dynamodb: jobItem },
      {
        eventName: ['MODIFY'],
        dynamodb: { ...jobItem, NewImage: { status: { S: ['pending', 'cancelled'] } } },
      },
      {
        eventName: ['MODIFY'],
        dynamodb: {
          ...jobItem,
          OldImage: { status: { S: ['pending', 'running', 'input_required'] } },
          NewImage: { status: { S: ['succeeded', 'failed'] } },
        },
      },
      {
        eventName: ['MODIFY'],
        dynamodb: {
          ...jobItem,
          OldImage: { status: { S: ['input_required'] } },
          NewImage: { status: { S: ['running'] } },
        },
      },
    ]);
  });

  it('alarms when it falls behind the stream', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Dimensions: [
        { Name: 'FunctionName', Value: { Ref: logicalId(stack.streamConsumer.handler.function) } },
      ],
      Statistic: 'Maximum',
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });
});

describe('job events consumer', () => {
  const mapping = () => mappingOf(stack.eventsConsumer.handler.function);

  it('reads the table stream like the job stream consumer: in order, bisecting, partial failures, bounded retry', () => {
    expect(mapping()).toMatchObject({
      EventSourceArn: { 'Fn::GetAtt': [logicalId(stack.jobs.table), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 8,
      MaximumRecordAgeInSeconds: 3600,
    });
  });

  it('sends exhausted batches to its own events DLQ', () => {
    expect(mapping().DestinationConfig).toEqual({
      OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(stack.eventsDlq.queue), 'Arn'] } },
    });
  });

  it('wakes for every insert and modify of a job item, never for event or key items', () => {
    expect(filtersOf(mapping())).toEqual([{ eventName: ['INSERT', 'MODIFY'], dynamodb: jobItem }]);
  });

  it('alarms when it falls behind the stream', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'IteratorAge',
      Dimensions: [
        { Name: 'FunctionName', Value: { Ref: logicalId(stack.eventsConsumer.handler.function) } },
      ],
      Statistic: 'Maximum',
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });
});

describe('outputs', () => {
  it('exposes the API URL, table name, state machine ARN, the DLQ URLs, tenancy policy and default limits the operator CLI reads, and the alarm topic', () => {
    expect(Object.keys(template.findOutputs('*')).sort()).toEqual([
      'AlarmTopicArn',
      'ApiUrl',
      'DefaultLimits',
      'JobDlqUrl',
      'StartDlqUrl',
      'StateMachineArn',
      'StepDlqUrl',
      'TableName',
      'TenancyAdminPolicyArn',
      'WebhookDlqUrl',
      'WebhookSecretsPrefix',
    ]);
    template.hasOutput('WebhookDlqUrl', { Value: { Ref: logicalId(stack.webhooks.dlq.queue) } });
    template.hasOutput('StartDlqUrl', { Value: { Ref: logicalId(stack.startDlq.queue) } });
    template.hasOutput('TableName', { Value: { Ref: logicalId(stack.jobs.table) } });
    template.hasOutput('StateMachineArn', { Value: { Ref: logicalId(stack.workflow.stateMachine) } });
    template.hasOutput('JobDlqUrl', { Value: { Ref: logicalId(stack.jobDlq.queue) } });
    template.hasOutput('AlarmTopicArn', { Value: { Ref: logicalId(stack.alarmNotifications.topic) } });
  });
});

describe('execution reconciler', () => {
  it("listens to this state machine's failed, timed-out and aborted executions only", () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: {
          stateMachineArn: [{ Ref: logicalId(stack.workflow.stateMachine) }],
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
        },
      },
      State: 'ENABLED',
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [logicalId(stack.reconciler.handler.function), 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 7200 },
        },
      ],
    });
  });

  it('lets only EventBridge, from that rule, invoke the reconciler', () => {
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [logicalId(stack.reconciler.handler.function), 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [logicalId(stack.reconciler.rule), 'Arn'] },
    });
  });

  it('alarms when the reconciler fails', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(stack.reconciler.handler.function) } }],
      Threshold: 0,
    });
  });
});

describe('job sweep', () => {
  it('runs every 5 minutes, once per tick (no retries)', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Targets: [
        {
          Arn: { 'Fn::GetAtt': [logicalId(stack.sweeper.handler.function), 'Arn'] },
          RetryPolicy: { MaximumRetryAttempts: 0 },
        },
      ],
    });
  });

  it('may start executions of this state machine and describe only its executions', () => {
    const statements = roleStatements(json, logicalId(stack.sweeper.handler.role));
    const sm = logicalId(stack.workflow.stateMachine);
    expect(statements).toContainEqual({
      actions: ['states:StartExecution', 'states:SendTaskSuccess'],
      resource: { Ref: sm },
    });
    const describeGrant = statements.find((s) => s.actions.includes('states:DescribeExecution'));
    expect(JSON.stringify(describeGrant?.resource)).toContain(
      `":execution:",{"Fn::GetAtt":["${sm}","Name"]},":*"`,
    );
  });

  it('alarms when the sweep fails', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/Lambda',
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(stack.sweeper.handler.function) } }],
    });
  });
});
