# Rapport on AWS: one module per concern. Apply order and what each output feeds into the
# Kubernetes overlay: README.md.

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = var.project
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}

locals {
  name = "${var.project}-${var.environment}"
}

module "network" {
  source = "./modules/network"

  name               = local.name
  cidr               = var.vpc_cidr
  az_count           = var.az_count
  nat_gateway_per_az = var.environment == "production"
  cluster_name       = local.name

  flow_log_retention_days = var.log_retention_days
}

module "logs" {
  source = "./modules/logs"

  name           = local.name
  retention_days = var.log_retention_days
}

module "cluster" {
  source = "./modules/cluster"

  name                = local.name
  kubernetes_version  = var.kubernetes_version
  vpc_id              = module.network.vpc_id
  private_subnet_ids  = module.network.private_subnet_ids
  node_instance_types = var.node_instance_types
  node_min            = var.node_min
  node_max            = var.node_max
  node_desired        = var.node_desired
  public_api_cidrs    = var.cluster_public_api_cidrs

  depends_on = [module.logs]
}

module "database" {
  source = "./modules/database"

  name                  = local.name
  vpc_id                = module.network.vpc_id
  subnet_ids            = module.network.private_subnet_ids
  client_security_group = module.cluster.node_security_group_id
  instance_class        = var.db_instance_class
  allocated_storage     = var.db_allocated_storage
  max_allocated_storage = var.db_max_allocated_storage
  multi_az              = var.db_multi_az
  backup_retention_days = var.db_backup_retention_days
}

module "redis" {
  source = "./modules/redis"

  name                  = local.name
  vpc_id                = module.network.vpc_id
  subnet_ids            = module.network.private_subnet_ids
  client_security_group = module.cluster.node_security_group_id
  node_type             = var.redis_node_type
}

module "storage" {
  source = "./modules/storage"

  name                    = local.name
  base_domain             = var.base_domain
  noncurrent_version_days = var.documents_noncurrent_version_days
}

module "iam" {
  source = "./modules/iam"

  name                  = local.name
  oidc_provider_arn     = module.cluster.oidc_provider_arn
  oidc_provider_url     = module.cluster.oidc_provider_url
  namespace             = var.kubernetes_namespace
  service_account       = "rapport"
  documents_bucket_arn  = module.storage.bucket_arn
  documents_kms_key_arn = module.storage.kms_key_arn
  workspace_prefix      = module.storage.workspace_prefix
  app_secret_arn        = aws_secretsmanager_secret.app.arn
}

module "dns" {
  source = "./modules/dns"

  base_domain          = var.base_domain
  hosted_zone_id       = var.hosted_zone_id
  load_balancer_dns    = var.ingress_load_balancer_dns_name
  load_balancer_zoneid = var.ingress_load_balancer_zone_id
}

# --- the application's secrets ------------------------------------------------------------
# One Secrets Manager secret; the Kubernetes Secret rapport-secrets is created from it
# (README.md: by hand or with the External Secrets Operator, whose role may read only this).

resource "random_password" "secret_key" {
  length  = 64
  special = false
}

resource "random_password" "metrics_token" {
  length  = 40
  special = false
}

resource "aws_secretsmanager_secret" "app" {
  name                    = "${local.name}/app"
  recovery_window_in_days = 7
  kms_key_id              = var.secrets_kms_key_id
}

resource "aws_secretsmanager_secret_version" "app" {
  secret_id = aws_secretsmanager_secret.app.id
  secret_string = jsonencode({
    SECRET_KEY          = random_password.secret_key.result
    DATABASE_URL        = module.database.url
    REDIS_URL           = module.redis.url
    METRICS_TOKEN       = random_password.metrics_token.result
    EMAIL_HOST_PASSWORD = var.email_host_password
  })
}
