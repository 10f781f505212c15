import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { createApp } from '../lib/app.js';

const { app } = createApp();
// A finding without a written reason fails `cdk synth`, so nothing reaches a deploy unreviewed.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
