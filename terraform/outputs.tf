# What the Kubernetes overlay needs (infra/k8s/overlays/<env>/env and the Ingress patch).

output "cluster_name" {
  value = module.cluster.name
}

output "base_domain" {
  value = var.base_domain
}

output "certificate_arn" {
  description = "alb.ingress.kubernetes.io/certificate-arn"
  value       = module.dns.certificate_arn
}

output "documents_bucket" {
  description = "AWS_STORAGE_BUCKET_NAME"
  value       = module.storage.bucket_name
}

output "region" {
  description = "AWS_S3_REGION_NAME"
  value       = var.region
}

output "app_role_arn" {
  description = "eks.amazonaws.com/role-arn of the service account rapport"
  value       = module.iam.app_role_arn
}

output "app_secret_arn" {
  description = "Secrets Manager secret with SECRET_KEY, DATABASE_URL, REDIS_URL, METRICS_TOKEN"
  value       = aws_secretsmanager_secret.app.arn
}

output "alb_subnet_cidrs" {
  description = "The public subnets the ALB's nodes sit in: the web NetworkPolicy's ipBlocks and FORWARDED_ALLOW_IPS (production overlay)"
  value       = module.network.public_subnet_cidrs
}

output "log_group" {
  description = "CloudWatch log group for the pods' stdout/stderr (Fluent Bit)"
  value       = module.logs.app_log_group
}

output "database_endpoint" {
  value = module.database.endpoint
}
