output "load_balancer_dns_name" {
  description = "The ALB's DNS name; BASE_DOMAIN and *.BASE_DOMAIN point here."
  value       = aws_lb.main.dns_name
}

output "certificate_arn" {
  description = "Validated ACM certificate for BASE_DOMAIN and *.BASE_DOMAIN."
  value       = aws_acm_certificate_validation.main.certificate_arn
}

output "database_address" {
  description = "RDS PostgreSQL host name."
  value       = aws_db_instance.main.address
}

output "redis_primary_endpoint" {
  description = "ElastiCache primary endpoint (TLS, auth token in the app secret)."
  value       = aws_elasticache_replication_group.main.primary_endpoint_address
}

output "documents_bucket" {
  description = "S3 bucket for workspace files (keys under workspaces/<schema>/)."
  value       = aws_s3_bucket.documents.bucket
}

output "app_secret_arn" {
  description = "Secrets Manager secret holding SECRET_KEY, DATABASE_URL, REDIS_URL, EMAIL_HOST_PASSWORD."
  value       = aws_secretsmanager_secret.app.arn
}

output "ecs_cluster_name" {
  description = "ECS cluster running web, worker and beat."
  value       = aws_ecs_cluster.main.name
}

output "migrate_task_definition" {
  description = "Task definition to run once per release before the services roll."
  value       = aws_ecs_task_definition.migrate.arn
}

output "private_subnet_ids" {
  description = "Subnets for one-off tasks (aws ecs run-task)."
  value       = aws_subnet.private[*].id
}

output "app_security_group_id" {
  description = "Security group for one-off tasks."
  value       = aws_security_group.app.id
}
