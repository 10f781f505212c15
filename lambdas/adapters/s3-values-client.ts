import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { withoutSdkLogging } from './sdk-clients.js';

/**
 * The part of the S3 client the large-value store uses. The store imports this module on first
 * use; importing it rather than the client package by name lets the bundler keep only these
 * commands, not all of S3's.
 */
export { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client };

export const newS3Client = () => withoutSdkLogging(new S3Client({}));
